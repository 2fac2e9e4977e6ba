/**
 * `xfrm_address_t` (include/uapi/linux/xfrm.h): a 16-byte union holding an IPv4 address in its
 * first 4 bytes or an IPv6 address in all 16, always in network byte order.
 *
 * Addresses cross this layer as numeric text (`'192.0.2.1'`, `'2001:db8::1'`); the family is the
 * text's family, parsed by the sys layer's one parser. No name resolution, no zone ids, no prefix.
 */
import { formatInetAddress, parseInetAddress } from '../sys/mod.ts';

/** `AF_UNSPEC`: no family (an empty source address, Android's `""`). */
export const AF_UNSPEC = 0;
/** `AF_INET`. */
export const AF_INET = 2;
/** `AF_INET6`. */
export const AF_INET6 = 10;
/** `sizeof(xfrm_address_t)`. */
export const XFRM_ADDRESS_LENGTH = 16;

/** Address family numbers used in XFRM structures. */
export type AddressFamilyNumber = typeof AF_UNSPEC | typeof AF_INET | typeof AF_INET6;

/** A parsed address: family and the 16 bytes of `xfrm_address_t` (IPv4 in bytes 0–3). */
export interface XfrmAddress {
  readonly family: AddressFamilyNumber;
  readonly bytes: Uint8Array;
}

/**
 * Parses numeric IPv4/IPv6 text into `xfrm_address_t` bytes. The empty string is the unspecified
 * address (`AF_UNSPEC`, 16 zero bytes), as Android's empty source.
 *
 * @throws {TypeError} when `text` is not a numeric IPv4 or IPv6 address, or has a zone id.
 * @example
 * ```ts
 * parseXfrmAddress('192.0.2.1').bytes.subarray(0, 4); // [192, 0, 2, 1]
 * ```
 */
export function parseXfrmAddress(text: string): XfrmAddress {
  const bytes = new Uint8Array(XFRM_ADDRESS_LENGTH);
  if (text === '') return { family: AF_UNSPEC, bytes };
  const parsed = parseInetAddress(text);
  bytes.set(parsed.bytes);
  return { family: parsed.family === 'IPv4' ? AF_INET : AF_INET6, bytes };
}

/**
 * Formats `xfrm_address_t` bytes as text for `family` (`AF_INET` dotted quad, `AF_INET6` RFC 5952
 * compressed form); `AF_UNSPEC` gives `''`.
 *
 * @example
 * ```ts
 * formatXfrmAddress(parseXfrmAddress('2001:db8:0:0::1').bytes, AF_INET6); // '2001:db8::1'
 * ```
 */
export function formatXfrmAddress(bytes: Uint8Array, family: number): string {
  if (family === AF_INET) return formatInetAddress(bytes, 'IPv4');
  if (family !== AF_INET6) return '';
  return formatInetAddress(bytes, 'IPv6');
}
