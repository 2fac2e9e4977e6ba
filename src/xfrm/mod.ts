/**
 * Public API of the kernel backend layer (`src/xfrm`): the pure NETLINK_XFRM codec, the netlink
 * socket, per-socket policy and UDP-encapsulation socket options, owned-SA flush, and the kernel
 * support probe. Only `src/ipsec` (and `src/cli`) import this.
 */

export { decodeNetlinkMessages, type NetlinkMessage } from '../sys/netlink/message.ts';
export {
  DEFAULT_NETLINK_TIMEOUT_MS,
  type NetlinkRequestOptions,
  NetlinkSocket,
  type NetlinkSocketOptions,
} from '../sys/netlink/socket.ts';
export {
  errnoName,
  FfiUnavailableError,
  MalformedNetlinkMessageError,
  NetlinkError,
  SocketFdUnavailableError,
  SocketOptionError,
  XfrmError,
} from './errors.ts';
export {
  type FlushOwnedSasResult,
  flushOwnedSas,
  isOwnedSa,
  type OwnedSaFilter,
} from './flush_owned_sas.ts';
export {
  addressFamilyOf,
  decodeSaMessage,
  decodeSocketPolicy,
  encodeAllocSpiRequest,
  encodeDeleteSaRequest,
  encodeDumpSaRequest,
  encodeGetSaRequest,
  encodeNewPolicyRequest,
  encodeNewSaRequest,
  encodeSocketPolicy,
  encodeUpdateSaRequest,
  IPPROTO_ESP,
  UDP_ENCAP_ESPINUDP,
  UDP_ENCAP_ESPINUDP_NON_IKE,
  XFRM_LIFETIME_INFINITE,
  XFRM_LIFETIME_ZERO,
  XFRM_MSG_NEWSA,
  XFRM_POLICY_LOCALOK,
  XFRM_SHARE_ANY,
  XFRM_SHARE_UNIQUE,
  XFRM_STATE_AF_UNSPEC,
  XFRM_STATE_ESN,
  XFRMA_REPLAY_ESN_MAX,
  type XfrmAeadInit,
  type XfrmAllocSpiOptions,
  type XfrmAuthInit,
  type XfrmCipherInit,
  type XfrmDirection,
  type XfrmEncapInit,
  type XfrmLifetimeConfig,
  type XfrmMark,
  type XfrmMode,
  type XfrmPolicyInfoInit,
  type XfrmReplayEsnInit,
  type XfrmSaIdInit,
  type XfrmSaRequestOptions,
  type XfrmSaState,
  type XfrmSocketPolicy,
  type XfrmTemplateInit,
} from './messages.ts';
export {
  type KernelIpsecSupport,
  PROBE_MARK,
  probeKernelIpsecSupport,
} from './probe_kernel_ipsec_support.ts';
export {
  applySocketPolicy,
  getUdpEncapsulation,
  removeSocketPolicies,
  type SocketLike,
  setUdpEncapsulation,
  socketFamily,
  socketFd,
} from './sockopt.ts';
export {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  formatXfrmAddress,
  parseXfrmAddress,
} from './xfrm_address.ts';
