/**
 * The behavioural suite (test/ipsec/_suite.ts) against the KernelBackend on a kernel WITH ESP:
 * boots the kernel peer with `hostRoot` (the host's root over virtio-9p, read-only) and runs ONE
 * Node.js process in the guest — the host's own node, chrooted into /host — executing
 * test/helpers/kernel_peer/guest_kernel_backend_suite.ts with the TAP reporter. This file asserts
 * that every guest test passed and prints the failures otherwise. Slow under TCG: budget 6 min.
 *
 * @requires root (qemu and the kernel-peer image)
 */
import { after, before, test } from 'node:test';
import { assertGuestTestsPass } from '../helpers/kernel_peer/guest_test_run.ts';
import { KernelPeer } from '../helpers/kernel_peer.ts';

const GUEST_TIMEOUT_MS = 6 * 60_000;

let peer: KernelPeer;
before(async () => {
  peer = await KernelPeer.start({ hostRoot: true });
});
after(async () => {
  await peer?.stop();
});

test(
  'the behavioural suite and TCP pass against the kernel backend in the guest (Linux with ESP)',
  { timeout: GUEST_TIMEOUT_MS + 60_000 },
  (t) =>
    assertGuestTestsPass(t, peer, {
      file: 'test/helpers/kernel_peer/guest_kernel_backend_suite.ts',
      tapPath: '/tmp/kernel-backend-suite.tap',
      timeoutMs: GUEST_TIMEOUT_MS,
      minTests: 100,
    }),
);
