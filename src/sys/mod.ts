/**
 * The system-call layer: libc through koffi (loaded on first use, never at import), the generic
 * netlink socket and message framing, and their errors. The XFRM codec (`src/xfrm`), netd's route
 * programming and the IPsec service build on it.
 */
export {
  errnoDescription,
  errnoName,
  FfiUnavailableError,
  MalformedNetlinkMessageError,
  NetlinkError,
  type NetlinkErrorOptions,
  SysError,
} from './errors.ts';
export { type Libc, libc } from './libc.ts';
export {
  decodeNetlinkMessages,
  encodeNetlinkMessage,
  HOST_LITTLE_ENDIAN,
  type NetlinkMessage,
} from './netlink/message.ts';
export {
  DEFAULT_NETLINK_TIMEOUT_MS,
  type NetlinkRequestOptions,
  NetlinkSocket,
  type NetlinkSocketOptions,
} from './netlink/socket.ts';
