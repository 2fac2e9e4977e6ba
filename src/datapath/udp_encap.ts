/**
 * RFC 3948 demultiplexing of what arrives on a UDP encapsulation port:
 * - exactly one byte 0xFF: NAT-keepalive (RFC 3948 §2.3) — dropped;
 * - first four bytes zero: non-ESP marker (RFC 3948 §2.2) — an IKE message follows;
 * - otherwise ESP (RFC 3948 §2.1): SPI (non-zero) ‖ sequence number ‖ …; fewer than 8 bytes is
 * truncated.
 */

/** The 4-byte non-ESP marker (RFC 3948 §2.2). */
export const NON_ESP_MARKER_LENGTH = 4;
/** The NAT-keepalive payload (RFC 3948 §2.3). */
export const NAT_KEEPALIVE_BYTE = 0xff;
/** SPI + sequence number: the shortest ESP header. */
export const ESP_MIN_HEADER_LENGTH = 8;
/** Largest UDP payload, by family (defined in `src/esp`, with the protected-payload limit). */
export { MAX_UDP_PAYLOAD_LENGTH } from '../esp/mod.ts';

/** What one encapsulation-port datagram is. */
export type EncapDatagramKind = 'keepalive' | 'ike' | 'esp' | 'truncated';

/**
 * Classifies one datagram received on a UDP encapsulation socket.
 *
 * @example
 * ```ts
 * import { classifyEncapDatagram } from 'tsnetd/datapath';
 * console.log(classifyEncapDatagram(Uint8Array.of(0xff))); // keepalive
 * console.log(classifyEncapDatagram(Uint8Array.of(0, 0, 0, 0, 1))); // ike
 * ```
 */
export function classifyEncapDatagram(bytes: Uint8Array): EncapDatagramKind {
  if (bytes.length === 1 && bytes[0] === NAT_KEEPALIVE_BYTE) return 'keepalive';
  if (
    bytes.length >= NON_ESP_MARKER_LENGTH &&
    bytes[0] === 0 &&
    bytes[1] === 0 &&
    bytes[2] === 0 &&
    bytes[3] === 0
  ) {
    return 'ike';
  }
  if (bytes.length < ESP_MIN_HEADER_LENGTH) return 'truncated';
  return 'esp';
}

/**
 * Prepends the non-ESP marker to an IKE message.
 *
 * @returns a new buffer: 4 zero bytes ‖ `message`
 */
export function addNonEspMarker(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(NON_ESP_MARKER_LENGTH + message.length);
  out.set(message, NON_ESP_MARKER_LENGTH);
  return out;
}
