/**
 * The daemon side of the IPsec service, for `tsnetd` and tests that host it: the server and the
 * reqid range that tags everything the daemon owns in the kernel. Kept out of `mod.ts` on purpose:
 * the server statically loads the kernel layer and the XFRM codec, which an application on the
 * userspace (or service) backend must never load.
 */
export { DAEMON_REQID_BASE, DAEMON_REQID_LAST } from './service/daemon_backend.ts';
export {
  IpSecServiceRunningError,
  IpSecServiceServer,
  type IpSecServiceServerOptions,
} from './service/server.ts';
