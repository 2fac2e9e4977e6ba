/**
 * The pure ESP engine (RFC 4303): algorithms, seal/open, padding, sequence numbers, ESN and the
 * anti-replay window. Bytes in, bytes out: no sockets, no timers, no imports from the project.
 *
 * @example Seal and open with AES-GCM-128
 * ```ts
 * import { EspInboundSa, EspOutboundSa, ESP_NEXT_HEADER } from 'tsnetd/esp';
 * const key = crypto.getRandomValues(new Uint8Array(20)); // 16-byte AES key ‖ 4-byte salt
 * const aead = { name: 'rfc4106(gcm(aes))', key, icvLengthBits: 128 } as const;
 * const out = new EspOutboundSa({ spi: 0x1234, aead });
 * const inb = new EspInboundSa({ spi: 0x1234, aead });
 * const r = inb.open(out.seal(new TextEncoder().encode('hi'), ESP_NEXT_HEADER.UDP));
 * ```
 *
 * @module
 */
export {
  ESN_HIGH_LENGTH,
  ESP_ALIGNMENT,
  ESP_HEADER_LENGTH,
  ESP_MAX_PAD_LENGTH,
  ESP_NEXT_HEADER,
  ESP_SALT_LENGTH,
  ESP_SEQ_OFFSET,
  ESP_SPI_OFFSET,
  ESP_TRAILER_LENGTH,
  MAX_PAYLOAD_LENGTH,
  MAX_SEQ_32,
  MAX_SEQ_64,
} from './constants.ts';
export {
  EspError,
  NativeCryptoError,
  SaDisposedError,
  SequenceNumberExhaustedError,
} from './errors.ts';
export {
  type DropReason,
  EspInboundSa,
  type EspInboundSaOptions,
  type OpenResult,
} from './esp_inbound_sa.ts';
export { EspOutboundSa, type EspOutboundSaOptions } from './esp_outbound_sa.ts';
export type { EspSaAlgorithms, EspSaOptions } from './esp_sa_options.ts';
export { formatSpi } from './format_spi.ts';
export {
  type BuildIpv4PacketOptions,
  type BuildIpv6PacketOptions,
  type BuildUdpDatagramOptions,
  buildIpv4Packet,
  buildIpv6Packet,
  buildUdpDatagram,
  type IpPacket,
  internetChecksum,
  parseIpPacket,
  parseUdpDatagram,
  type UdpDatagram,
  udpChecksum,
  writeUdpDatagram,
} from './ip_packet.ts';
export { fixedIv, type IvSource } from './iv_source.ts';
export {
  MAX_UDP_PAYLOAD_LENGTH,
  maxProtectedUdpPayloadLength,
  oversizedSendMessage,
  type ProtectedPayloadLimitOptions,
} from './payload_limits.ts';
export { peekSpi } from './peek_spi.ts';
export {
  DEFAULT_REPLAY_WINDOW_SIZE,
  REPLAY_WINDOW_MAX_SIZE,
  REPLAY_WINDOW_MIN_SIZE,
  type ReplayCheckResult,
  ReplayWindow,
  type ReplayWindowOptions,
} from './replay_window.ts';
export {
  type AeadName,
  ALGORITHMS,
  type AlgorithmInfo,
  type AlgorithmKind,
  type AlgorithmName,
  type AuthName,
  type CipherName,
  isValidTruncationBits,
  type TruncationRange,
} from './transform.ts';
export {
  ESP_CRYPTO_ENV,
  type EspCryptoProvider,
  espCryptoProvider,
  espNativeCryptoUnavailableReason,
} from './transforms/native/openssl.ts';
