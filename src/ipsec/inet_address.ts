/**
 * Numeric IP address checks of Android's IpSecService (`checkInetAddress`, the first check of an SPI
 * reservation and of a transform build):
 * empty, non-numeric and wildcard addresses are refused with Android's messages. Addresses are
 * normalised (`0:0::1` → `::1`) so that SPI uniqueness per destination compares like with like.
 * Zone ids (`fe80::1%eth0`) are refused: neither backend can keep them in an SA.
 */
import { isIP, SocketAddress } from 'node:net';
import { normalizeAddress } from '../sys/mod.ts';
import { truncateText } from './_socket_args.ts';
import { IllegalArgumentError } from './errors.ts';

/** A validated numeric address. */
export interface InetAddress {
  /** Canonical text form. */
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
}

/**
 * Android's `checkInetAddress`: refuses empty, non-numeric and wildcard addresses.
 *
 * @param text a numeric IPv4 or IPv6 literal
 * @returns the normalised address and family
 * @throws {IllegalArgumentError} "Unspecified address", "Not a numeric address: X",
 *   "Scoped address not supported: X (…)", "Inappropriate wildcard address: X"
 */
export function checkInetAddress(text: unknown): InetAddress {
  if (typeof text !== 'string') {
    throw new TypeError(`Cannot use address: expected a string, got ${typeof text}`);
  }
  if (text === '') throw new IllegalArgumentError('Unspecified address');
  const kind = isIP(text);
  if (kind === 0) throw new IllegalArgumentError(`Not a numeric address: ${truncateText(text)}`);
  // An SA has no zone (nor has xfrm_address_t): dropping it would name the address on every link.
  if (text.includes('%')) {
    throw new IllegalArgumentError(
      `Scoped address not supported: ${truncateText(text)} (an SA address has no zone id)`,
    );
  }
  const family = kind === 4 ? 'IPv4' : 'IPv6';
  const address = new SocketAddress({ address: text, family: kind === 4 ? 'ipv4' : 'ipv6' })
    .address;
  if (address === '0.0.0.0' || address === '::') {
    throw new IllegalArgumentError(`Inappropriate wildcard address: ${address}`);
  }
  return { address, family };
}

/** Normalises a numeric address without the wildcard check; `undefined` when not numeric. */
export { normalizeAddress };
