/**
 * The kernel backend's review checks (parity and fail-closed behaviour with the userspace backend,
 * docs/kernel-backend.md "Parity with the userspace backend") on a kernel WITH ESP: boots the
 * kernel peer with `hostRoot` and runs test/helpers/kernel_peer/guest_kernel_backend_parity.ts in
 * ONE guest Node.js process with the TAP reporter; asserts every guest test passed and prints the
 * failures otherwise. About a minute under TCG; budget 4 min.
 *
 * @requires root (qemu and the kernel-peer image)
 */
import { guestTestFile } from '../helpers/kernel_peer/guest_test_run.ts';

guestTestFile('the kernel backend review checks pass in the guest (Linux with ESP)', {
  file: 'test/helpers/kernel_peer/guest_kernel_backend_parity.ts',
  tapPath: '/tmp/kernel-backend-review.tap',
  timeoutMs: 4 * 60_000,
  minTests: 18,
});
