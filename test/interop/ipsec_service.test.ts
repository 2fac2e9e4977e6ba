/**
 * The IPsec service (tsnetd's privileged owner of kernel IPsec state) on a kernel WITH ESP: boots
 * the kernel peer with `hostRoot` and runs test/helpers/kernel_peer/guest_ipsec_service.ts in the
 * guest as root; that file starts the daemon and unprivileged clients (setpriv). This file asserts
 * every guest test passed. Slow under TCG: budget 28 min.
 * @requires root (qemu and the kernel-peer image)
 */
import { after, before, test } from 'node:test';
import { assertGuestTestsPass } from '../helpers/kernel_peer/guest_test_run.ts';
import { KernelPeer } from '../helpers/kernel_peer.ts';

const GUEST_TIMEOUT_MS = 28 * 60_000;

let peer: KernelPeer;
before(async () => {
  peer = await KernelPeer.start({ hostRoot: true });
});
after(async () => {
  await peer?.stop();
});

test(
  'the IPsec service in the guest: suite as an unprivileged UID, per-UID quotas, client and daemon death',
  { timeout: GUEST_TIMEOUT_MS + 60_000 },
  (t) =>
    assertGuestTestsPass(t, peer, {
      file: 'test/helpers/kernel_peer/guest_ipsec_service.ts',
      tapPath: '/tmp/ipsec-service.tap',
      timeoutMs: GUEST_TIMEOUT_MS,
      minTests: 8,
    }),
);
