/**
 * The kernel backend's review checks (parity and fail-closed behaviour with the userspace backend,
 * docs/kernel-backend.md "Parity with the userspace backend") on a kernel WITH ESP: boots the
 * kernel peer with `hostRoot` and runs test/helpers/kernel_peer/guest_kernel_backend_parity.ts in
 * ONE guest Node.js process with the TAP reporter; asserts every guest test passed and prints the
 * failures otherwise. About a minute under TCG; budget 4 min.
 *
 * @requires root (qemu and the kernel-peer image)
 */
import { after, before, test } from 'node:test';
import { assertGuestTestsPass } from '../helpers/kernel_peer/guest_test_run.ts';
import { KernelPeer } from '../helpers/kernel_peer.ts';

const GUEST_TIMEOUT_MS = 4 * 60_000;

let peer: KernelPeer;
before(async () => {
  peer = await KernelPeer.start({ hostRoot: true });
});
after(async () => {
  await peer?.stop();
});

test(
  'the kernel backend review checks pass in the guest (Linux with ESP)',
  { timeout: GUEST_TIMEOUT_MS + 60_000 },
  (t) =>
    assertGuestTestsPass(t, peer, {
      file: 'test/helpers/kernel_peer/guest_kernel_backend_parity.ts',
      tapPath: '/tmp/kernel-backend-review.tap',
      timeoutMs: GUEST_TIMEOUT_MS,
      minTests: 18,
    }),
);
