/**
 * `xfrm_address_t` (include/uapi/linux/xfrm.h): a 16-byte union holding an IPv4 address in its
 * first 4 bytes or an IPv6 address in all 16, always in network byte order.
 *
 * Addresses cross this layer as numeric text (`'192.0.2.1'`, `'2001:db8::1'`); the family is the
 * text's family. No name resolution, no zone ids, no prefix.
 */
import { isIPv4, isIPv6 } from 'node:net';

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
 * @throws {TypeError} when `text` is not a numeric IPv4 or IPv6 address.
 * @example
 * ```ts
 * parseXfrmAddress('192.0.2.1').bytes.subarray(0, 4); // [192, 0, 2, 1]
 * ```
 */
export function parseXfrmAddress(text: string): XfrmAddress {
  const bytes = new Uint8Array(XFRM_ADDRESS_LENGTH);
  if (text === '') return { family: AF_UNSPEC, bytes };
  if (isIPv4(text)) {
    writeIpv4(text, bytes, 0);
    return { family: AF_INET, bytes };
  }
  if (isIPv6(text) && !text.includes('%')) {
    writeIpv6(text, bytes);
    return { family: AF_INET6, bytes };
  }
  throw new TypeError(`Cannot parse address "${text}": not a numeric IPv4 or IPv6 address`);
}

function writeIpv4(text: string, out: Uint8Array, offset: number): void {
  const parts = text.split('.');
  for (let i = 0; i < 4; i++) out[offset + i] = Number(parts[i]);
}

function writeIpv6(text: string, out: Uint8Array): void {
  let body = text;
  const tail: number[] = [];
  const lastColon = body.lastIndexOf(':');
  const last = body.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = new Uint8Array(4);
    writeIpv4(last, v4, 0);
    tail.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    body = `${body.slice(0, lastColon + 1)}0`;
  }
  const [head = '', rest] = body.split('::');
  const headGroups = head === '' ? [] : head.split(':').map((g) => Number.parseInt(g, 16));
  let restGroups =
    rest === undefined || rest === '' ? [] : rest.split(':').map((g) => Number.parseInt(g, 16));
  if (tail.length > 0) {
    if (rest === undefined) headGroups.splice(headGroups.length - 1, 1, ...tail);
    else restGroups = [...restGroups.slice(0, -1), ...tail];
  }
  const groups = new Array<number>(8).fill(0);
  headGroups.forEach((g, i) => {
    groups[i] = g;
  });
  restGroups.forEach((g, i) => {
    groups[8 - restGroups.length + i] = g;
  });
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
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
  if (family === AF_INET) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (family !== AF_INET6) return '';
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  // RFC 5952 §4.2: compress the longest run (≥ 2) of zero groups, the first one on ties.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
