/**
 * Numeric internet addresses, text ↔ network-order bytes: this project's `inet_pton`/`inet_ntop`.
 * One parser for every layer that puts an address on the wire: the XFRM codec (`xfrm_address_t`),
 * the userspace data path (UDP checksum pseudo-header, pcaps) and both backends' destination
 * checks.
 *
 * Zone ids (`fe80::1%eth0`) are refused, as `inet_pton(3)` refuses them: an SA, a pseudo-header or
 * an `xfrm_address_t` has no place for a zone, and dropping it silently would let an SA meant for
 * one link name the same address on every link. {@link normalizeAddress} is the exception: it
 * compares a socket's destination (which may carry a zone) with an SA's address.
 */
import { isIP, isIPv4, isIPv6, SocketAddress } from 'node:net';

/** Family of a numeric address, as Node names it. */
export type InetFamily = 'IPv4' | 'IPv6';

/** A parsed numeric address: 4 (IPv4) or 16 (IPv6) bytes in network order. */
export interface InetAddressBytes {
  readonly family: InetFamily;
  readonly bytes: Uint8Array;
}

/**
 * Parses a numeric IPv4 or IPv6 literal (dotted quad, RFC 4291 text forms with `::` and an
 * embedded IPv4 tail) into its network-order bytes.
 *
 * @throws {TypeError} not a numeric address, or an IPv6 address with a zone id (`%…`)
 * @example
 * ```ts
 * parseInetAddress('192.0.2.1').bytes; // Uint8Array(4) [192, 0, 2, 1]
 * parseInetAddress('::ffff:192.0.2.1').bytes.length; // 16
 * ```
 */
export function parseInetAddress(text: string): InetAddressBytes {
  if (isIPv4(text)) {
    const bytes = new Uint8Array(4);
    writeIpv4(text, bytes, 0);
    return { family: 'IPv4', bytes };
  }
  if (isIPv6(text) && !text.includes('%')) {
    const bytes = new Uint8Array(16);
    writeIpv6(text, bytes);
    return { family: 'IPv6', bytes };
  }
  const why = text.includes('%') ? 'a zone id has no place in an SA' : 'not a numeric address';
  throw new TypeError(`Cannot parse address "${text}": ${why}`);
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
 * Formats 4 bytes as a dotted quad, or the first 16 as RFC 5952 text (lower case, the longest run
 * of two or more zero groups compressed, the first on ties).
 *
 * @example
 * ```ts
 * formatInetAddress(parseInetAddress('2001:db8:0:0::1').bytes, 'IPv6'); // '2001:db8::1'
 * ```
 */
export function formatInetAddress(bytes: Uint8Array, family: InetFamily): string {
  if (family === 'IPv4') return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
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

/**
 * The canonical text of a numeric address (`0:0::1` → `::1`), for comparing a destination with an
 * SA's address; a zone id is dropped (the destination of a send may carry one). `undefined` when
 * `text` is not numeric.
 *
 * @example
 * ```ts
 * normalizeAddress('0:0::1'); // '::1'
 * ```
 */
export function normalizeAddress(text: string): string | undefined {
  const kind = isIP(text);
  if (kind === 0) return undefined;
  return new SocketAddress({ address: text, family: kind === 4 ? 'ipv4' : 'ipv6' }).address;
}

/** Whether two addresses name the same host (numeric ones compared canonically). */
export function sameAddress(a: string, b: string): boolean {
  return a === b || (normalizeAddress(a) ?? a) === (normalizeAddress(b) ?? b);
}
