/**
 * Backend #2: IPsec in the Linux kernel (XFRM). The engine programs the kernel over
 * NETLINK_XFRM (`src/xfrm` encodes the messages, `src/sys` carries them) and protects ordinary
 * UDP and TCP sockets with per-socket policies; the kernel moves the packets. Needs a kernel with
 * ESP and `CAP_NET_ADMIN`. `src/ipsec/kernel_backend.ts` adapts {@link KernelEngine} to the
 * IpSecManager `Backend` interface and loads this layer only when the kernel backend is asked for.
 *
 * @module
 */
export {
  KernelDatagramSocket,
  type KernelSocketAddress,
  type KernelSocketSa,
} from './datagram_socket.ts';
export {
  type KeepaliveScheduler,
  type KeepaliveTarget,
  KernelEncapSocket,
  type KernelRemoteInfo,
} from './encap_socket.ts';
export {
  KernelDestinationError,
  KernelError,
  KernelInvalidArgumentError,
  KernelPayloadTooLongError,
  KernelSaDeletedError,
  KernelStateError,
  KernelUnavailableError,
  type KernelUnavailableReason,
  KernelUnsupportedError,
} from './errors.ts';
export {
  type KernelDirection,
  type KernelEncapSocketOptions,
  KernelEngine,
  type KernelEngineOptions,
  type KernelSaState,
} from './kernel_engine.ts';
export { KernelSa, type KernelSaOptions } from './kernel_sa.ts';
export {
  createDescriptor,
  hasDescriptor,
  type KernelStreamSocket,
  type PendingStreamHooks,
  PendingStreamPolicies,
} from './stream_socket.ts';
