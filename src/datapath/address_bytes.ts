/**
 * Numeric IP address text ↔ bytes, for the UDP checksum pseudo-header of transport mode
 * (RFC 768, RFC 8200 §8.1) and for addresses in pcaps.
 */
import { isIP, SocketAddress } from 'node:net';

/**
 * The 4 or 16 network-order bytes of a numeric address.
 *
 * @throws {TypeError} when `address` is not a numeric IPv4/IPv6 literal
 * @example
 * ```ts
 * import { addressBytes } from 'tsnetd/datapath';
 * console.log(addressBytes('127.0.0.1')); // Uint8Array(4) [ 127, 0, 0, 1 ]
 * ```
 */
export function addressBytes(address: string): Uint8Array {
  const kind = isIP(address);
  if (kind === 4) return Uint8Array.from(address.split('.').map(Number));
  if (kind !== 6) throw new TypeError(`Cannot parse address: "${address}" is not numeric`);
  let text = address.split('%')[0] ?? '';
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = last.split('.').map(Number);
    const hi = (((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16);
    const lo = (((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const [head = '', rest] = text.split('::');
  const parse = (s: string): number[] =>
    s === '' ? [] : s.split(':').map((h) => Number.parseInt(h, 16));
  const headWords = parse(head);
  const restWords = rest === undefined ? [] : parse(rest);
  const zeros = rest === undefined ? 0 : 8 - headWords.length - restWords.length;
  const words = [...headWords, ...new Array<number>(zeros).fill(0), ...restWords];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const w = words[i] ?? 0;
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  }
  return out;
}

/** Normalises a numeric address (`0:0::1` → `::1`); `undefined` when not numeric. */
export function normalizeAddress(address: string): string | undefined {
  const kind = isIP(address);
  if (kind === 0) return undefined;
  return new SocketAddress({ address, family: kind === 4 ? 'ipv4' : 'ipv6' }).address;
}
