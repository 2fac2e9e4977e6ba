/**
 * The userspace data path (the first of the two backends, see `docs/architecture.md`): ESP over UDP
 * (RFC 3948) in the process, without privileges. `src/ipsec/userspace_backend.ts` adapts {@link
 * UserspaceEngine} to the IpSecManager `Backend` interface.
 *
 * @module
 */
export { addressBytes, normalizeAddress } from './address_bytes.ts';
export { type DatapathRemoteInfo, EncapSocket, type EncapSocketOptions } from './encap_socket.ts';
export {
  DatapathError,
  DestinationNotAllowedError,
  FamilyMismatchError,
  PayloadTooLongError,
  SaDeletedError,
  SocketClosedError,
} from './errors.ts';
export {
  type KeepalivePassSummary,
  KeepaliveRegistration,
  type KeepaliveSend,
  KeepaliveTargets,
  NatKeepaliveScheduler,
  type NatKeepaliveSchedulerOptions,
} from './nat_keepalive.ts';
export { encodePcap, LINKTYPE_RAW, type PcapRecord } from './pcap_writer.ts';
export {
  type DatapathAddressInfo,
  ProtectedSocket,
  type ProtectedSocketEvents,
  type ProtectedSocketHooks,
} from './protected_socket.ts';
export {
  DATAPATH_COUNTERS,
  type DatapathCounter,
  type DatapathDropReason,
  type DatapathReceiveKind,
  type DatapathSendDropReason,
  type DatapathSendKind,
  DatapathStatistics,
  type DatapathStatisticsSnapshot,
} from './statistics.ts';
export {
  type EventListener,
  type EventMap,
  type EventName,
  TypedEventEmitter,
} from './typed_event_emitter.ts';
export {
  addNonEspMarker,
  classifyEncapDatagram,
  type EncapDatagramKind,
  MAX_UDP_PAYLOAD_LENGTH,
  NAT_KEEPALIVE_BYTE,
  NON_ESP_MARKER_LENGTH,
} from './udp_encap.ts';
export {
  type OpenEncapSocketOptions,
  UserspaceEngine,
  type UserspaceSaState,
} from './userspace_engine.ts';
export { UserspaceSa, type UserspaceSaOptions } from './userspace_sa.ts';
export {
  formatEspSaWithKeysForWireshark,
  type WiresharkEspProtocol,
  type WiresharkEspSaOptions,
  type WiresharkEspSaRecord,
  WiresharkUnsupportedAlgorithmError,
} from './wireshark_esp_sa.ts';
