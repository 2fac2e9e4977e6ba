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
  SocketFdUnavailableError,
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
export {
  type PeerCredentials,
  PeerCredentialsError,
  peerCredentials,
  peerGroups,
  SO_PEERCRED,
  SO_PEERGROUPS,
} from './peer_credentials.ts';
export { type SocketLike, socketFd } from './socket_fd.ts';
