/**
 * Android's `android.net.IpSecManager` for Node.js: reserve SPIs, build transport-mode transforms
 * from application keys, open UDP encapsulation sockets, apply transforms to datagram sockets,
 * rekey without loss, read SA state. Backends: userspace ESP-in-UDP (default, unprivileged).
 *
 * @example
 * ```ts
 * import { IpSecManager } from 'tsnetd/ipsec';
 * await using ipsec = await IpSecManager.create();
 * ```
 *
 * @module
 */
export type {
  AddressFamily,
  Backend,
  BackendCryptoProvider,
  BackendDatagramSocket,
  BackendDatagramSocketEvents,
  BackendEncapSocket,
  BackendSa,
  BackendSaAlgorithms,
  BackendSaConfig,
  BackendTransformState,
  IpSecCounter,
  IpSecStatistics,
  OpenEncapSocketOptions,
  RemoteInfo,
  SocketAddressInfo,
  TransformDirection,
} from './backend.ts';
export {
  DestinationMismatchError,
  IllegalArgumentError,
  IllegalStateError,
  IpSecError,
  MessageTooLongError,
  ResourceUnavailableError,
  SecurityError,
  SpiUnavailableError,
  TransformClosedError,
  UnsupportedOperationError,
} from './errors.ts';
export { type AlgorithmKind, IpSecAlgorithm } from './ipsec_algorithm.ts';
export {
  type DatagramMessage,
  IpSecDatagramSocket,
  type IpSecDatagramSocketEvents,
} from './ipsec_datagram_socket.ts';
export {
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  DEFAULT_RECEIVE_QUEUE_LENGTH,
  DEFAULT_REPLAY_WINDOW_SIZE,
  type Direction,
  IpSecManager,
  type IpSecManagerOptions,
  type OpenUdpEncapsulationSocketOptions,
} from './ipsec_manager.ts';
export {
  MAX_NUM_ENCAP_SOCKETS,
  MAX_NUM_SPIS,
  MAX_NUM_TRANSFORMS,
  type TransformDescription,
} from './ipsec_service.ts';
export { IpSecTransform, IpSecTransformBuilder } from './ipsec_transform.ts';
export { IpSecTransformState } from './ipsec_transform_state.ts';
export {
  KernelBackend,
  type KernelBackendOptions,
  KernelBackendUnavailableError,
  type KernelBackendUnavailableReason,
} from './kernel_backend.ts';
export { SecurityParameterIndex } from './security_parameter_index.ts';
export {
  IpSecServiceError,
  IpSecServiceUnavailableError,
} from './service/connection.ts';
export { ServiceBackend, type ServiceBackendOptions } from './service/service_backend.ts';
export { DEFAULT_IPSEC_SOCKET_PATH, WireProtocolError } from './service/wire.ts';
export { RAND_SPI_MAX, RAND_SPI_MIN, seededRandomUint32 } from './spi_allocator.ts';
export {
  type IkeMessage,
  UdpEncapsulationSocket,
  type UdpEncapsulationSocketEvents,
} from './udp_encapsulation_socket.ts';
export { UserspaceBackend, type UserspaceBackendOptions } from './userspace_backend.ts';
