/**
 * Private to src/ipsec: argument checks at the API boundary. Addresses of the socket-like objects
 * (`IpSecDatagramSocket`, `UdpEncapsulationSocket`) must be numeric literals of the socket's
 * family — never host names, so no DNS query is ever made — and ports integers in range (`dgram`
 * would silently wrap -1 to 65535 or truncate 1.5 to 1).
 *
 * One rule for every entry point of `tsnetd/ipsec` (docs/ipsec.md, "Errors"): a value of the wrong
 * JavaScript type — not a number, a number that is not an integer where Android takes an `int`,
 * `null`/`undefined` where a value is required, an object of another class — is a `TypeError`
 * (what Java's static types or a `NullPointerException` would have stopped); a value of the right
 * type that Android refuses — out of range, reserved, not numeric, unknown — is an
 * {@link IllegalArgumentError} (Android's `IllegalArgumentException`). No `RangeError`.
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
 * An integer: `TypeError` for anything else (a string, NaN, 1.5, a bigint).
 *
 * @throws {TypeError} not an integer number
 */
export function checkInteger(action: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(
      `Cannot ${action}: ${name} must be an integer, got ${describeValue(value)}`,
    );
  }
  return value;
}

/**
 * An integer in `min`..`max`.
 *
 * @throws {TypeError} not an integer number
 * @throws {IllegalArgumentError} out of range
 */
export function checkIntegerIn(
  action: string,
  name: string,
  value: unknown,
  min: number,
  max: number,
): number {
  const n = checkInteger(action, name, value);
  if (n < min || n > max) {
    throw new IllegalArgumentError(`Cannot ${action}: ${name} must be in ${min}..${max}, got ${n}`);
  }
  return n;
}

/**
 * A UDP port: an integer in `min`..65535.
 *
 * @throws {TypeError} not an integer number
 * @throws {IllegalArgumentError} out of range
 */
export function checkPort(action: string, port: unknown, min: 0 | 1): number {
  return checkIntegerIn(action, 'port', port, min, 0xffff);
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
