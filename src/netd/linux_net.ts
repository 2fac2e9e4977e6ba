/**
 * The I/O edge of netd: the few Linux operations the controllers need (Android 9–11 recipe),
 * as one interface with two implementations: `KernelLinuxNet` (rules, routes and links over
 * NETLINK_ROUTE, iptables through one long-lived iptables-restore per family, sysctls under
 * /proc/sys/net) and `MemoryLinuxNet` (an in-memory double with the kernel's errno behaviour,
 * for the pure protocol tests).
 *
 * Contract: every mutating method either succeeds or throws a `NetdOperationError` whose
 * `errno` is what the kernel (or tool) reported: rule add of an identical rule → EEXIST, rule
 * delete of a missing rule → ENOENT, route add of an existing route → EEXIST, route delete of a
 * missing route → ESRCH, unicast route on a missing device → ENODEV, any iptables failure →
 * EREMOTEIO. Everything acts on the network namespace of the calling process only.
 */

import { NetdOperationError } from './errors.ts';

/**
 * Checks a sysctl path below /proc/sys/net: `ipv4/…` or `ipv6/…`, every component non-empty,
 * not `.`/`..`, without NUL. Interface names are single components (they cannot hold `/`).
 *
 * @throws {NetdOperationError} EINVAL for anything else.
 * @example
 * ```ts
 * checkSysctlPath('ipv4/conf/veth+1/forwarding'); // ['ipv4', 'conf', 'veth+1', 'forwarding']
 * ```
 */
export function checkSysctlPath(path: string): string[] {
  const parts = path.split('/');
  const ok =
    (parts[0] === 'ipv4' || parts[0] === 'ipv6') &&
    parts.length >= 2 &&
    parts.every((p) => p !== '' && p !== '.' && p !== '..' && !p.includes('\0'));
  if (!ok)
    throw new NetdOperationError(
      'EINVAL',
      `Cannot access sysctl ${JSON.stringify(path)}: invalid path`,
    );
  return parts;
}

/** Address family of a rule or route. */
export type Family = 4 | 6;

/** A policy routing rule (`ip rule`), the subset netd builds. */
export interface RuleSpec {
  /** Rule priority (`pref`). */
  readonly priority: number;
  /** `lookup <table>` or the `unreachable` action. */
  readonly action: 'lookup' | 'unreachable';
  /** Routing table for `lookup`. */
  readonly table?: number;
  /** `fwmark <mark>/<mask>`; omitted when both are 0. */
  readonly fwmark?: { readonly mark: number; readonly mask: number };
  /** Input interface (`iif`). */
  readonly iif?: string;
  /** Output interface (`oif`). */
  readonly oif?: string;
  /** `uidrange start-end`. */
  readonly uidRange?: { readonly start: number; readonly end: number };
}

/** A route in a given table (`ip route`), the subset netd builds. */
export interface RouteSpec {
  readonly family: Family;
  readonly table: number;
  /** Destination prefix `address/length`, as given by the caller (already validated). */
  readonly destination: string;
  /** Unicast (with `dev` and maybe `gateway`), or the `unreachable`/`throw` types (no device). */
  readonly type: 'unicast' | 'unreachable' | 'throw';
  readonly dev?: string;
  readonly gateway?: string;
  /** `link` without next hop, `global` (RT_SCOPE_UNIVERSE) with one. */
  readonly scope: 'link' | 'global';
  /** Route priority; netd sets 100000 on `throw` default routes. */
  readonly metric?: number;
}

/** The Linux operations netd performs. See the file header for the error contract. */
export interface LinuxNet {
  /** `if_nametoindex`: the interface index, or `undefined` when no such interface exists. */
  interfaceIndex(name: string): Promise<number | undefined>;
  /** Adds (`add`) or deletes (`del`) one rule. */
  modifyRule(op: 'add' | 'del', family: Family, rule: RuleSpec): Promise<void>;
  /** The priority of every rule of the family, in kernel order (duplicates included). */
  rulePriorities(family: Family): Promise<number[]>;
  /** Deletes every rule of the family whose priority is in `priorities`; returns how many. */
  deleteRulesAt(family: Family, priorities: ReadonlySet<number>): Promise<number>;
  /** Adds (`add`) or deletes (`del`) one route. */
  modifyRoute(op: 'add' | 'del', route: RouteSpec): Promise<void>;
  /** Number of routes in a table (0 for a table that does not exist). */
  countRoutes(family: Family, table: number): Promise<number>;
  /** Deletes every route of a table. Succeeds on an empty or absent table. */
  flushRouteTable(family: Family, table: number): Promise<void>;
  /** Applies one `iptables`/`ip6tables` command (argv without the program); failure is EREMOTEIO. */
  iptables(family: Family, args: readonly string[]): Promise<void>;
  /** Reads a sysctl below /proc/sys/net (e.g. `ipv4/ip_forward`), trimmed. */
  readSysctl(path: string): Promise<string>;
  /** Writes a sysctl below /proc/sys/net. */
  writeSysctl(path: string, value: string): Promise<void>;
  /** The entries of /proc/sys/net/ipv{4,6}/conf: `all`, `default` and every interface. */
  listConfEntries(family: Family): Promise<string[]>;
  /** Releases sockets and helper processes. Idempotent. */
  close(): void;
}

/**
 * `ip rule` arguments for a rule, after `ip -4|-6 rule add|del`.
 *
 * @example
 * ```ts
 * ruleArgs({ priority: 14000, action: 'lookup', table: 1002, iif: 'lo', oif: 'oem0' });
 * // ['pref', '14000', 'iif', 'lo', 'oif', 'oem0', 'table', '1002']
 * ```
 */
export function ruleArgs(rule: RuleSpec): string[] {
  const args = ['pref', String(rule.priority)];
  if (rule.fwmark !== undefined && (rule.fwmark.mark !== 0 || rule.fwmark.mask !== 0)) {
    args.push('fwmark', `0x${rule.fwmark.mark.toString(16)}/0x${rule.fwmark.mask.toString(16)}`);
  }
  if (rule.iif !== undefined) args.push('iif', rule.iif);
  if (rule.oif !== undefined) args.push('oif', rule.oif);
  if (rule.uidRange !== undefined)
    args.push('uidrange', `${rule.uidRange.start}-${rule.uidRange.end}`);
  if (rule.action === 'unreachable') args.push('unreachable');
  else args.push('table', String(rule.table ?? 0));
  return args;
}

/**
 * `ip route` arguments for a route, after `ip -4|-6 route add|del`.
 *
 * @example
 * ```ts
 * routeArgs({ family: 4, table: 1002, destination: '10.0.0.0/8', type: 'unicast', dev: 'oem0', scope: 'link' });
 * // ['10.0.0.0/8', 'dev', 'oem0', 'table', '1002', 'proto', 'static', 'scope', 'link']
 * ```
 */
export function routeArgs(route: RouteSpec): string[] {
  const args: string[] = [];
  if (route.type !== 'unicast') args.push(route.type);
  args.push(route.destination);
  if (route.gateway !== undefined) args.push('via', route.gateway);
  if (route.dev !== undefined) args.push('dev', route.dev);
  args.push('table', String(route.table), 'proto', 'static', 'scope', route.scope);
  if (route.metric !== undefined) args.push('metric', String(route.metric));
  return args;
}

/**
 * A stable key for a rule (same key ⇔ the kernel sees the same rule).
 *
 * @example
 * ```ts
 * ruleKey(4, { priority: 32000, action: 'unreachable' }); // '4 pref 32000 unreachable'
 * ```
 */
export function ruleKey(family: Family, rule: RuleSpec): string {
  return `${family} ${ruleArgs(rule).join(' ')}`;
}

/**
 * A stable key for a route.
 *
 * @example
 * ```ts
 * routeKey({ family: 6, table: 1002, destination: '::/0', type: 'throw', scope: 'link', metric: 100000 });
 * ```
 */
export function routeKey(route: RouteSpec): string {
  return `${route.family} ${routeArgs(route).join(' ')}`;
}
