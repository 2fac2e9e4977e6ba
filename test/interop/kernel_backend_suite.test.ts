/**
 * The behavioural suite (test/ipsec/_suite.ts) against the KernelBackend on a kernel WITH ESP:
 * boots the kernel peer with `hostRoot` (the host's root over virtio-9p, read-only) and runs ONE
 * Node.js process in the guest — the host's own node, chrooted into /host — executing
 * test/helpers/kernel_peer/guest_kernel_backend_suite.ts with the TAP reporter. This file asserts
 * that every guest test passed and prints the failures otherwise. Slow under TCG: budget 6 min.
 *
 * @requires root (qemu and the kernel-peer image)
 */
import { guestTestFile } from '../helpers/kernel_peer/guest_test_run.ts';

guestTestFile(
  'the behavioural suite and TCP pass against the kernel backend in the guest (Linux with ESP)',
  {
    file: 'test/helpers/kernel_peer/guest_kernel_backend_suite.ts',
    tapPath: '/tmp/kernel-backend-suite.tap',
    timeoutMs: 6 * 60_000,
    minTests: 100,
  },
);
