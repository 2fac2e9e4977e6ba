/**
 * Destination and next-hop arguments of `network route` (netd's
 * `parsePrefix` and `inet_pton` checks): `addr/prefixlen` with a decimal length ≤ 32 (IPv4) or
 * ≤ 128 (IPv6); a next hop is an address of the same family or `unreachable`/`throw`.
 * Anything else is EINVAL. Unlike netd's `getaddrinfo`, the short IPv4 forms (`10.1`) and
 * IPv6 zone ids (`%eth0`) are not accepted.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Family } from './linux_net.ts';

/** A parsed destination prefix. */
export interface Destination {
  readonly family: Family;
  /** `address/length`, lower-cased. */
  readonly prefix: string;
  readonly prefixLength: number;
}

/** A parsed next hop: a gateway address or one of the two route types without device. */
export type NextHop =
  | { readonly kind: 'none' }
  | { readonly kind: 'gateway'; readonly address: string }
  | { readonly kind: 'unreachable' }
  | { readonly kind: 'throw' };

function familyOf(address: string): Family | undefined {
  if (address.includes('%')) return undefined;
  if (isIPv4(address)) return 4;
  if (isIPv6(address)) return 6;
  return undefined;
}

/**
 * Parses `addr/prefixlen`; `undefined` means EINVAL.
 *
 * @example
 * ```ts
 * parseDestination('2001:DB8::/32'); // { family: 6, prefix: '2001:db8::/32', prefixLength: 32 }
 * parseDestination('10.0.0.0');      // undefined (no prefix length)
 * ```
 */
export function parseDestination(text: string): Destination | undefined {
  const slash = text.indexOf('/');
  if (slash === -1) return undefined;
  const address = text.slice(0, slash);
  const lengthText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  const family = familyOf(address);
  if (family === undefined) return undefined;
  if (prefixLength > (family === 4 ? 32 : 128)) return undefined;
  return { family, prefix: `${address.toLowerCase()}/${prefixLength}`, prefixLength };
}

/**
 * Parses the optional next-hop argument against the destination family; `undefined` = EINVAL.
 *
 * @example
 * ```ts
 * parseNextHop('throw', 4); // { kind: 'throw' }
 * parseNextHop('fe80::1', 4); // undefined
 * ```
 */
export function parseNextHop(text: string | undefined, family: Family): NextHop | undefined {
  if (text === undefined) return { kind: 'none' };
  if (text === 'unreachable') return { kind: 'unreachable' };
  if (text === 'throw') return { kind: 'throw' };
  if (familyOf(text) !== family) return undefined;
  return { kind: 'gateway', address: text.toLowerCase() };
}
