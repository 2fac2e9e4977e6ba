/**
 * Private to src/ipsec: argument checks of the socket-like public objects (`IpSecDatagramSocket`,
 * `UdpEncapsulationSocket`) at the API boundary (wrong type → `TypeError`, as everywhere in the
 * API). Addresses must be numeric literals of the socket's family — never host names, so no DNS
 * query is ever made — and ports integers in range (`dgram` would silently wrap -1 to 65535 or
 * truncate 1.5 to 1).
 */
import { isIP } from 'node:net';
import type { AddressFamily } from './backend.ts';
import { IllegalArgumentError } from './errors.ts';

/** Longest piece of a caller's value quoted in an error message. */
const MAX_QUOTED_LENGTH = 64;

/** `"value"` for a message, cut to {@link MAX_QUOTED_LENGTH} characters. */
export function quoteValue(value: string): string {
  return value.length > MAX_QUOTED_LENGTH
    ? `"${value.slice(0, MAX_QUOTED_LENGTH)}…" (${value.length} characters)`
    : `"${value}"`;
}

/**
 * A UDP port: an integer in `min`..65535.
 *
 * @throws {TypeError} not an integer number
 * @throws {RangeError} out of range
 */
export function checkPort(action: string, port: unknown, min: 0 | 1): number {
  if (typeof port !== 'number' || !Number.isInteger(port)) {
    throw new TypeError(`Cannot ${action}: port must be an integer, got ${describeValue(port)}`);
  }
  if (port < min || port > 0xffff) {
    throw new RangeError(`Cannot ${action}: port must be in ${min}..65535, got ${port}`);
  }
  return port;
}

/**
 * A numeric address literal of `family`.
 *
 * @throws {TypeError} not a string
 * @throws {IllegalArgumentError} empty, not numeric, or of the other family
 */
export function checkSocketAddress(
  action: string,
  address: unknown,
  family: AddressFamily,
): string {
  if (typeof address !== 'string') {
    throw new TypeError(
      `Cannot ${action}: address must be a string, got ${describeValue(address)}`,
    );
  }
  const kind = isIP(address);
  if (kind === 0) {
    throw new IllegalArgumentError(
      `Cannot ${action}: address must be a numeric IP address, got ${quoteValue(address)}`,
    );
  }
  if ((kind === 4 ? 'IPv4' : 'IPv6') !== family) {
    throw new IllegalArgumentError(
      `Cannot ${action}: ${quoteValue(address)} is not an ${family} address`,
    );
  }
  return address;
}

/** A caller's value for a message: numbers as they are, strings quoted and cut, else the type. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return quoteValue(value);
  return typeof value;
}

/** `text` cut to {@link MAX_QUOTED_LENGTH} characters (for Android's unquoted messages). */
export function truncateText(text: string): string {
  return text.length > MAX_QUOTED_LENGTH ? `${text.slice(0, MAX_QUOTED_LENGTH)}…` : text;
}
