/**
 * Wire constants of ESP (RFC 4303) and the implementation limits of this engine.
 *
 * Packet layout (RFC 4303 §2):
 * `SPI(4) ‖ Sequence Number(4) ‖ IV ‖ ciphertext(payload ‖ padding ‖ Pad Length(1) ‖ Next Header(1)) ‖ ICV`.
 * With ESN (RFC 4303 §2.2.1) only the low 32 bits of the sequence number are sent.
 *
 * @module
 */

// --- Spec constants (RFC 4303) ---------------------------------------------------------------

/** Offset of the SPI in an ESP packet (RFC 4303 §2.1). */
export const ESP_SPI_OFFSET = 0;
/** Offset of the (low 32 bits of the) sequence number (RFC 4303 §2.2). */
export const ESP_SEQ_OFFSET = 4;
/** SPI + sequence number. */
export const ESP_HEADER_LENGTH = 8;
/** Pad Length + Next Header (RFC 4303 §2.5, §2.6). */
export const ESP_TRAILER_LENGTH = 2;
/** Largest value of the Pad Length field (RFC 4303 §2.5). */
export const ESP_MAX_PAD_LENGTH = 255;
/** The ICV starts on a 4-byte boundary: payload ‖ padding ‖ trailer is a multiple of 4 (RFC 4303 §2.4). */
export const ESP_ALIGNMENT = 4;
/** Length of the implicit ESN high half appended to the ICV input (RFC 4303 §2.2.1, §3.3.3). */
export const ESN_HIGH_LENGTH = 4;
/** Largest 32-bit sequence number; sealing past it throws (RFC 4303 §3.3.3). */
export const MAX_SEQ_32 = 0xffffffff;
/** Largest 64-bit extended sequence number. */
export const MAX_SEQ_64 = 0xffff_ffff_ffff_ffffn;
/** SPI values 1–255 are reserved by IANA, 0 for local use; 0 must never be sent (RFC 4303 §2.1). */
export const ESP_SPI_RESERVED_ZERO = 0;
/** Salt (AEAD) or nonce (RFC 3686 CTR) length at the end of the key material. */
export const ESP_SALT_LENGTH = 4;

/**
 * Next Header values used with ESP (IANA protocol numbers; 59 marks a dummy packet, RFC 4303 §2.6).
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import { ESP_NEXT_HEADER, EspOutboundSa } from 'tsnetd/esp';
 * const aead = { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 } as const;
 * using sa = new EspOutboundSa({ spi: 0x1234, aead });
 * const udpDatagram = new Uint8Array(8); // a UDP header without data
 * const packet = sa.seal(udpDatagram, ESP_NEXT_HEADER.UDP); // 17 goes into the ESP trailer
 * ```
 */
export const ESP_NEXT_HEADER = {
  ICMP: 1,
  IPV4: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ICMPV6: 58,
  NONE: 59,
} as const;

// --- Implementation limits -------------------------------------------------------------------

/** Largest payload `seal()` accepts (an IP datagram cannot be larger). */
export const MAX_PAYLOAD_LENGTH = 65535;
