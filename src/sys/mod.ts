/**
 * The system-call layer: libc through koffi (loaded on first use, never at import), the generic
 * netlink socket and message framing, errno names, numeric addresses (text ↔ bytes), the serial
 * queue and wildcard UDP binding that both IPsec backends share, and their errors. The XFRM codec
 * (`src/xfrm`), both backends, netd's route programming and the IPsec service build on it.
 */
export {
  ERRNO_TABLE,
  type Errno,
  errnoDescription,
  errnoName,
  errnoNumber,
  errnoOf,
  isErrno,
  strerror,
} from './errno.ts';
export {
  FfiUnavailableError,
  MalformedNetlinkMessageError,
  NetlinkError,
  type NetlinkErrorOptions,
  SocketFdUnavailableError,
  SysError,
  UdpBindError,
} from './errors.ts';
export { FileLock, FileLockError } from './file_lock.ts';
export {
  formatInetAddress,
  type InetAddressBytes,
  type InetFamily,
  normalizeAddress,
  parseInetAddress,
  sameAddress,
} from './inet_address.ts';
export { type Libc, libc } from './libc.ts';
export { NativeUdpSocket } from './native_udp_socket.ts';
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
export { SerialQueue } from './serial_queue.ts';
export { type SocketLike, socketFd } from './socket_fd.ts';
export { UdpRecvBatch, type UdpSource } from './udp_recv_batch.ts';
export { MAX_UDP_SEND_BATCH, UdpSendBatch } from './udp_send_batch.ts';
export { bindWildcardUdpSocket } from './udp_socket.ts';
