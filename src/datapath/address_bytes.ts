/**
 * Numeric IP address text ↔ bytes, for the UDP checksum pseudo-header of transport mode
 * (RFC 768, RFC 8200 §8.1) and for addresses in pcaps: the sys layer's one parser
 * (`parseInetAddress`), which refuses zone ids as the XFRM codec does.
 */
import { normalizeAddress, parseInetAddress } from '../sys/mod.ts';

/**
 * The 4 or 16 network-order bytes of a numeric address.
 *
 * @throws {TypeError} when `address` is not a numeric IPv4/IPv6 literal, or has a zone id
 * @example
 * ```ts
 * import { addressBytes } from 'tsnetd/datapath';
 * console.log(addressBytes('127.0.0.1')); // Uint8Array(4) [ 127, 0, 0, 1 ]
 * ```
 */
export function addressBytes(address: string): Uint8Array {
  return parseInetAddress(address).bytes;
}

/** Normalises a numeric address (`0:0::1` → `::1`); `undefined` when not numeric. */
export { normalizeAddress };
