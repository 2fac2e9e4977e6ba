/**
 * Reads the SPI of an ESP packet for SA lookup before `open()` (RFC 4303 §2.1, §3.4.2).
 *
 * @module
 */
import { ESP_HEADER_LENGTH } from './constants.ts';

/**
 * Returns the SPI of an ESP packet.
 *
 * @param packet the ESP packet (what follows the IP or UDP header); not retained
 * @returns the SPI as a uint32, or `undefined` when the packet is shorter than the 8-byte header
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { peekSpi } from 'tsnetd/esp';
 * const inboundSas = new Map([[0x1234, 'the SA of SPI 0x1234']]);
 * const packet = Uint8Array.of(0, 0, 0x12, 0x34, 0, 0, 0, 1); // SPI ‖ sequence number
 * const sa = inboundSas.get(peekSpi(packet) ?? -1);
 * assert.equal(sa, 'the SA of SPI 0x1234');
 * assert.equal(peekSpi(packet.subarray(0, 4)), undefined); // shorter than an ESP header
 * ```
 */
export function peekSpi(packet: Uint8Array): number | undefined {
  if (packet.length < ESP_HEADER_LENGTH) return undefined;
  return ((packet[0]! << 24) | (packet[1]! << 16) | (packet[2]! << 8) | packet[3]!) >>> 0;
}
