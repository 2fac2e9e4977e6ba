/**
 * Runs the shared behavioural suite of Android's IpSecManager rules (`_suite.ts`) against the
 * userspace backend: one device = one `UserspaceBackend` shared by every manager of the suite.
 *
 * @requires root (a tshark capture on the loopback interface)
 */
import { IpSecManager, UserspaceBackend } from '../../src/ipsec/mod.ts';
import { runBehaviourSuite } from './_suite.ts';

runBehaviourSuite('userspace', async () => {
  const backend = new UserspaceBackend();
  return {
    createManager: (options = {}) => IpSecManager.create({ ...options, backend }),
    close: () => backend.close(),
  };
});
