/**
 * netd's RouteController on Linux policy routing, Android 9–11 recipe,
 * living beside the host's own routing: one table per interface (ifindex + 1000, fixed when
 * the interface joins a network), the fixed tables 97/98/99, the start-up rules, the
 * per-interface rules by permission, the incoming-packet MARK rules in mangle
 * `routectrl_mangle_INPUT`, routes, and the tethering rules of `ipfwd add|remove`. Every rule is
 * installed for IPv4 and IPv6.
 *
 * Coexistence (docs/netd.md): the host's rules are never flushed. Instead of Android's
 * catch-all `32000: unreachable`, each network gets `32000: fwmark <netId>/0xffff unreachable`,
 * so only traffic marked for an OEM network ends there and everything else reaches the host's
 * `main`/`default` tables and its own rules. Start-up refuses to run when a foreign rule holds
 * one of netd's priorities or netd's fixed tables hold routes (it could not tell them apart
 * from its own at clean-up).
 *
 * Everything installed is recorded in a journal, so `shutdown()` removes exactly that. With a
 * {@link StateFile}, a daemon started after a SIGKILL removes its predecessor's leftovers:
 * every rule at netd's priorities, the tables listed in the file, the mangle chain.
 */
import type { Errno } from './errno.ts';
import { NetdOperationError, StartRefusedError } from './errors.ts';
import {
  FWMARK_EXPLICIT,
  FWMARK_NET_ID_MASK,
  FWMARK_PROTECTED,
  FWMARK_UID_BILLING,
  hex,
  type Permission,
  permissionMark,
} from './fwmark.ts';
import { iptablesCanMatchExactly, isValidInterfaceName } from './interface_name.ts';
import {
  type Family,
  type LinuxNet,
  type RouteSpec,
  type RuleSpec,
  routeKey,
  ruleKey,
} from './linux_net.ts';
import { LOCAL_NET_ID } from './net_id.ts';
import { parseDestination, parseNextHop } from './route_target.ts';
import type { StateFile } from './state_file.ts';

/** Rule priorities of Android 8–11 (`RouteController.h`). */
export const RULE_PRIORITY = {
  VPN_OVERRIDE_SYSTEM: 10000,
  VPN_OVERRIDE_OIF: 10500,
  VPN_OUTPUT_TO_LOCAL: 11000,
  SECURE_VPN: 12000,
  PROHIBIT_NON_VPN: 12500,
  EXPLICIT_NETWORK: 13000,
  OUTPUT_INTERFACE: 14000,
  LEGACY_SYSTEM: 15000,
  LEGACY_NETWORK: 16000,
  LOCAL_NETWORK: 17000,
  TETHERING: 18000,
  IMPLICIT_NETWORK: 19000,
  BYPASSABLE_VPN: 20000,
  VPN_FALLTHROUGH: 21000,
  DEFAULT_NETWORK: 22000,
  UNREACHABLE: 32000,
} as const;

/** Fixed routing tables. */
export const ROUTE_TABLE = {
  LOCAL_NETWORK: 97,
  LEGACY_NETWORK: 98,
  LEGACY_SYSTEM: 99,
} as const;

/** `ROUTE_TABLE_OFFSET_FROM_INDEX`: an interface's table is its ifindex plus this. */
export const ROUTE_TABLE_OFFSET_FROM_INDEX = 1000;
/** Metric of `throw` default routes (`PRIO_THROW`). */
export const THROW_DEFAULT_METRIC = 100000;
/** The mangle chain holding the incoming-packet MARK rules. */
export const LOCAL_MANGLE_INPUT = 'routectrl_mangle_INPUT';

/** Which table a route goes to (`RouteController::TableType`). */
export type TableType = 'interface' | 'local_network' | 'legacy_network' | 'legacy_system';

const FAMILIES: readonly Family[] = [4, 6];
/** Tables netd owns outright (routes there are flushed when a predecessor is recovered). */
const FIXED_TABLES: readonly number[] = [
  ROUTE_TABLE.LOCAL_NETWORK,
  ROUTE_TABLE.LEGACY_NETWORK,
  ROUTE_TABLE.LEGACY_SYSTEM,
];
const UID_ROOT = 0;

/** Every rule priority netd installs rules at (foreign rules there make start-up refuse). */
export const NETD_RULE_PRIORITIES: ReadonlySet<number> = new Set([
  RULE_PRIORITY.VPN_OVERRIDE_SYSTEM,
  RULE_PRIORITY.VPN_OVERRIDE_OIF,
  RULE_PRIORITY.EXPLICIT_NETWORK,
  RULE_PRIORITY.OUTPUT_INTERFACE,
  RULE_PRIORITY.LEGACY_SYSTEM,
  RULE_PRIORITY.LEGACY_NETWORK,
  RULE_PRIORITY.LOCAL_NETWORK,
  RULE_PRIORITY.TETHERING,
  RULE_PRIORITY.IMPLICIT_NETWORK,
  RULE_PRIORITY.UNREACHABLE,
]);

/**
 * The end of a network's rules: traffic marked with its netId that found no route in its
 * tables is unreachable (Android's `32000: unreachable`, narrowed to the network's own mark so
 * unmarked traffic goes on to the host's rules and `main`).
 *
 * @example
 * ```ts
 * networkUnreachableRule(2); // { priority: 32000, action: 'unreachable', fwmark: { mark: 2, mask: 0xffff } }
 * ```
 */
export function networkUnreachableRule(netId: number): RuleSpec {
  return {
    priority: RULE_PRIORITY.UNREACHABLE,
    action: 'unreachable',
    fwmark: { mark: netId, mask: FWMARK_NET_ID_MASK },
  };
}

/** The rules `init()` installs (RouteController::Init, Android 9, coexistence variant). */
export function baseRules(): RuleSpec[] {
  const notExplicit = { mark: 0, mask: FWMARK_EXPLICIT };
  const system = permissionMark('SYSTEM');
  return [
    {
      priority: RULE_PRIORITY.LEGACY_SYSTEM,
      action: 'lookup',
      table: ROUTE_TABLE.LEGACY_SYSTEM,
      fwmark: notExplicit,
    },
    {
      priority: RULE_PRIORITY.LEGACY_NETWORK,
      action: 'lookup',
      table: ROUTE_TABLE.LEGACY_NETWORK,
      fwmark: notExplicit,
    },
    {
      priority: RULE_PRIORITY.VPN_OVERRIDE_SYSTEM,
      action: 'lookup',
      table: ROUTE_TABLE.LEGACY_SYSTEM,
      fwmark: { mark: system, mask: FWMARK_EXPLICIT | system },
    },
    {
      priority: RULE_PRIORITY.EXPLICIT_NETWORK,
      action: 'lookup',
      table: ROUTE_TABLE.LOCAL_NETWORK,
      fwmark: { mark: LOCAL_NET_ID | FWMARK_EXPLICIT, mask: FWMARK_NET_ID_MASK | FWMARK_EXPLICIT },
      iif: 'lo',
    },
    {
      priority: RULE_PRIORITY.LOCAL_NETWORK,
      action: 'lookup',
      table: ROUTE_TABLE.LOCAL_NETWORK,
      fwmark: notExplicit,
    },
    networkUnreachableRule(LOCAL_NET_ID),
  ];
}

/**
 * The rules that put interface `iface` (table `table`) into network `netId` with `permission`
 * (modifyPhysicalNetwork without the MARK rule), in installation order.
 *
 * @example
 * ```ts
 * physicalNetworkRules(2, 'oem0', 1002, 'NONE').map((r) => r.priority); // [13000, 10500, 14000, 19000]
 * ```
 */
export function physicalNetworkRules(
  netId: number,
  iface: string,
  table: number,
  permission: Permission,
): RuleSpec[] {
  const perm = permissionMark(permission);
  const rules: RuleSpec[] = [
    {
      priority: RULE_PRIORITY.EXPLICIT_NETWORK,
      action: 'lookup',
      table,
      fwmark: {
        mark: netId | FWMARK_EXPLICIT | perm,
        mask: FWMARK_NET_ID_MASK | FWMARK_EXPLICIT | perm,
      },
      iif: 'lo',
    },
    ...outputInterfaceRules(iface, table, permission),
  ];
  if (permission === 'NONE') {
    rules.push({
      priority: RULE_PRIORITY.IMPLICIT_NETWORK,
      action: 'lookup',
      table,
      fwmark: { mark: netId, mask: FWMARK_NET_ID_MASK | FWMARK_EXPLICIT },
      iif: 'lo',
    });
  }
  return rules;
}

/** modifyOutputInterfaceRules without a UID range: the root override (10500) and 14000. */
export function outputInterfaceRules(
  iface: string,
  table: number,
  permission: Permission,
): RuleSpec[] {
  const perm = permissionMark(permission);
  const fwmark = { mark: perm, mask: perm };
  return [
    {
      priority: RULE_PRIORITY.VPN_OVERRIDE_OIF,
      action: 'lookup',
      table,
      fwmark,
      iif: 'lo',
      oif: iface,
      uidRange: { start: UID_ROOT, end: UID_ROOT },
    },
    {
      priority: RULE_PRIORITY.OUTPUT_INTERFACE,
      action: 'lookup',
      table,
      fwmark,
      iif: 'lo',
      oif: iface,
    },
  ];
}

/**
 * The incoming-packet mark of a network (modifyIncomingPacketMark): netId, explicit and
 * protected bits and the permission; the mask leaves only the uidBillingDone bit alone.
 *
 * @example
 * ```ts
 * incomingPacketMark(2, 'NONE'); // { mark: 0x30002, mask: 0xffefffff }
 * ```
 */
export function incomingPacketMark(
  netId: number,
  permission: Permission,
): { mark: number; mask: number } {
  return {
    mark: (netId | FWMARK_EXPLICIT | FWMARK_PROTECTED | permissionMark(permission)) >>> 0,
    mask: ~FWMARK_UID_BILLING >>> 0,
  };
}

/** iptables arguments of the MARK rule for `iface` (`-A`/`-D` chosen by `verb`). */
export function markRuleArgs(
  verb: '-A' | '-D',
  iface: string,
  netId: number,
  permission: Permission,
): string[] {
  const { mark, mask } = incomingPacketMark(netId, permission);
  return [
    '-t',
    'mangle',
    verb,
    LOCAL_MANGLE_INPUT,
    '-i',
    iface,
    '-j',
    'MARK',
    '--set-mark',
    `${hex(mark)}/${hex(mask)}`,
  ];
}

function isGone(error: unknown): boolean {
  return (
    error instanceof NetdOperationError && (error.errno === 'ENOENT' || error.errno === 'ESRCH')
  );
}

function fail(errno: Errno, message: string): never {
  throw new NetdOperationError(errno, message);
}

type Undo = () => Promise<void>;

/**
 * Installs and removes netd's routing state through a {@link LinuxNet}.
 *
 * @example
 * ```ts
 * const routes = new RouteController(new MemoryLinuxNet({ interfaces: ['oem0'] }));
 * await routes.init();
 * await routes.addInterfaceToPhysicalNetwork(2, 'oem0', 'NONE');
 * await routes.shutdown();
 * ```
 */
export class RouteController {
  readonly #net: LinuxNet;
  readonly #tableCache = new Map<string, number>();
  /** Table of each interface that is in a network, fixed when it joined. */
  readonly #memberTables = new Map<string, number>();
  /** Installed state, in installation order: key → how to remove it. */
  readonly #journal = new Map<string, Undo>();
  /** Tethering rules are reference counted (netd adds duplicates; the kernel refuses them). */
  readonly #tethering = new Map<string, { count: number; iif: string; rule: RuleSpec }>();
  readonly #stateFile: StateFile | undefined;
  #ownsStateFile = false;

  constructor(net: LinuxNet, stateFile?: StateFile) {
    this.#net = net;
    this.#stateFile = stateFile;
  }

  /** Number of journal entries (rules, routes, marks, chain) currently installed. */
  get installedCount(): number {
    return this.#journal.size;
  }

  /** Whether `init()` got past recovery: the state file now describes this daemon. */
  get ownsStateFile(): boolean {
    return this.#ownsStateFile;
  }

  /**
   * Start-up: removes a dead predecessor's leftovers (when the state file says there was one),
   * refuses to start when foreign state sits where netd installs its own, then installs the
   * base rules and the `routectrl_mangle_INPUT` chain hooked from mangle INPUT.
   *
   * @throws {StartRefusedError} with what is in the way (nothing was installed).
   */
  async init(): Promise<void> {
    const recovered = this.#stateFile?.recovered;
    if (recovered !== undefined) {
      await this.#removeLeftovers(recovered.tables);
      // Nothing of the predecessor is left: a refusal below must not make the next start
      // "recover" (delete) rules that are not ours.
      this.#stateFile?.remove();
    }
    await this.#checkCoexistence();
    this.#stateFile?.reset();
    this.#ownsStateFile = true;
    for (const rule of baseRules()) await this.#addRuleBoth(rule);
    for (const family of FAMILIES) await this.#installChain(family);
  }

  /** A predecessor died: its rules hold netd's priorities, its routes the listed tables. */
  async #removeLeftovers(tables: readonly number[]): Promise<void> {
    for (const family of FAMILIES) {
      await this.#net.deleteRulesAt(family, NETD_RULE_PRIORITIES);
      for (const table of new Set([...FIXED_TABLES, ...tables]))
        await this.#net.flushRouteTable(family, table);
      for (const args of [
        ['-t', 'mangle', '-D', 'INPUT', '-j', LOCAL_MANGLE_INPUT],
        ['-t', 'mangle', '-F', LOCAL_MANGLE_INPUT],
        ['-t', 'mangle', '-X', LOCAL_MANGLE_INPUT],
      ]) {
        try {
          await this.#net.iptables(family, args);
        } catch {
          // Not there (the predecessor died before creating it, or it was removed by hand).
        }
      }
    }
  }

  async #checkCoexistence(): Promise<void> {
    const problems: string[] = [];
    for (const family of FAMILIES) {
      const taken = [...new Set(await this.#net.rulePriorities(family))].filter((p) =>
        NETD_RULE_PRIORITIES.has(p),
      );
      if (taken.length > 0) {
        problems.push(
          `IPv${family} rules at priority ${taken.join(', ')} exist that tsnetd did not install (tsnetd installs its own rules at these priorities and removes every rule there after a crash)`,
        );
      }
      for (const table of FIXED_TABLES) {
        const n = await this.#net.countRoutes(family, table);
        if (n > 0) {
          problems.push(
            `IPv${family} routing table ${table} holds ${n} route(s) (tsnetd's rules would send unmarked traffic through them, and it flushes that table)`,
          );
        }
      }
    }
    if (problems.length > 0) {
      throw new StartRefusedError(
        `Cannot start beside the host's routing without breaking it: ${problems.join('; ')}. Remove or move them (see docs/netd.md, "Coexistence").`,
      );
    }
  }

  async #installChain(family: Family): Promise<void> {
    try {
      await this.#net.iptables(family, ['-t', 'mangle', '-N', LOCAL_MANGLE_INPUT]);
    } catch (error: unknown) {
      throw new StartRefusedError(
        `Cannot create the IPv${family} mangle chain ${LOCAL_MANGLE_INPUT}: it exists (left by a tsnetd whose state file is gone?) or iptables failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    this.#journal.set(`${family} chain`, async () => {
      await this.#net.iptables(family, ['-t', 'mangle', '-F', LOCAL_MANGLE_INPUT]);
      await this.#net.iptables(family, ['-t', 'mangle', '-X', LOCAL_MANGLE_INPUT]);
    });
    const hook = ['-t', 'mangle', '-D', 'INPUT', '-j', LOCAL_MANGLE_INPUT];
    await this.#net.iptables(family, ['-t', 'mangle', '-A', 'INPUT', '-j', LOCAL_MANGLE_INPUT]);
    this.#journal.set(`${family} hook`, () => this.#net.iptables(family, hook));
  }

  /**
   * The table of an interface: the one it joined its network with, else ifindex + 1000 while
   * it exists, else the last value seen, else 0.
   */
  async tableForInterface(iface: string): Promise<number> {
    const member = this.#memberTables.get(iface);
    if (member !== undefined) return member;
    const index = await this.#net.interfaceIndex(iface);
    if (index !== undefined) {
      const table = index + ROUTE_TABLE_OFFSET_FROM_INDEX;
      this.#tableCache.set(iface, table);
      return table;
    }
    return this.#tableCache.get(iface) ?? 0;
  }

  /** `network create`: the network's unreachable rule (both families). */
  async addNetwork(netId: number): Promise<void> {
    await this.#atomically(this.#ruleSteps([networkUnreachableRule(netId)]));
  }

  /** `network destroy`: removes the network's unreachable rule (already gone is fine). */
  async removeNetwork(netId: number): Promise<void> {
    let first: unknown;
    for (const family of FAMILIES) {
      try {
        await this.#deleteRule(family, networkUnreachableRule(netId));
      } catch (error: unknown) {
        if (!isGone(error)) first ??= error;
      }
    }
    if (first !== undefined) throw first;
  }

  #recordTable(table: number): void {
    if (this.#stateFile === undefined || this.#stateFile.state.tables.includes(table)) return;
    this.#stateFile.update((s) => {
      s.tables.push(table);
    });
  }

  #forgetTable(table: number): void {
    if (this.#stateFile === undefined || !this.#stateFile.state.tables.includes(table)) return;
    this.#stateFile.update((s) => {
      s.tables = s.tables.filter((t) => t !== table);
    });
  }

  async #addRule(family: Family, rule: RuleSpec): Promise<void> {
    await this.#net.modifyRule('add', family, rule);
    this.#journal.set(ruleKey(family, rule), () => this.#net.modifyRule('del', family, rule));
  }

  async #deleteRule(family: Family, rule: RuleSpec): Promise<void> {
    try {
      await this.#net.modifyRule('del', family, rule);
    } finally {
      // Deleted, or not there: either way it is no longer ours to remove.
      this.#journal.delete(ruleKey(family, rule));
    }
  }

  async #addRuleBoth(rule: RuleSpec): Promise<void> {
    for (const family of FAMILIES) await this.#addRule(family, rule);
  }

  async #addMark(
    family: Family,
    iface: string,
    netId: number,
    permission: Permission,
  ): Promise<void> {
    await this.#net.iptables(family, markRuleArgs('-A', iface, netId, permission));
    this.#journal.set(`${family} mark ${iface}`, () =>
      this.#net.iptables(family, markRuleArgs('-D', iface, netId, permission)),
    );
  }

  async #deleteMark(
    family: Family,
    iface: string,
    netId: number,
    permission: Permission,
  ): Promise<void> {
    try {
      await this.#net.iptables(family, markRuleArgs('-D', iface, netId, permission));
    } finally {
      this.#journal.delete(`${family} mark ${iface}`);
    }
  }

  /** Runs `steps` in order; on failure undoes the completed ones and rethrows. */
  async #atomically(
    steps: ReadonlyArray<{ run: () => Promise<void>; undo: () => Promise<void> }>,
  ): Promise<void> {
    const done: Array<() => Promise<void>> = [];
    try {
      for (const step of steps) {
        await step.run();
        done.push(step.undo);
      }
    } catch (error: unknown) {
      for (const undo of done.reverse()) {
        try {
          await undo();
        } catch {
          // Best effort: the original failure is what the caller must see.
        }
      }
      throw error;
    }
  }

  #ruleSteps(rules: readonly RuleSpec[]) {
    return rules.flatMap((rule) =>
      FAMILIES.map((family) => ({
        run: () => this.#addRule(family, rule),
        undo: () => this.#deleteRule(family, rule),
      })),
    );
  }

  #markSteps(iface: string, netId: number, permission: Permission) {
    return FAMILIES.map((family) => ({
      run: () => this.#addMark(family, iface, netId, permission),
      undo: () => this.#deleteMark(family, iface, netId, permission),
    }));
  }

  async #removeMark(iface: string, netId: number, permission: Permission): Promise<void> {
    let first: unknown;
    for (const family of FAMILIES) {
      try {
        await this.#deleteMark(family, iface, netId, permission);
      } catch (error: unknown) {
        first ??= error;
      }
    }
    if (first !== undefined) throw first;
  }

  async #requireTable(iface: string): Promise<number> {
    const table = await this.tableForInterface(iface);
    if (table === 0)
      fail('ESRCH', `Cannot find the routing table of "${iface}": no such interface`);
    return table;
  }

  /**
   * Adds `iface` to physical network `netId` (mark, then rules); all or nothing. The table is
   * fixed now (ifindex + 1000) and used until the interface leaves, even if the interface is
   * deleted and re-created meanwhile.
   */
  async addInterfaceToPhysicalNetwork(
    netId: number,
    iface: string,
    permission: Permission,
  ): Promise<void> {
    this.#memberTables.delete(iface);
    const table = await this.#requireTable(iface);
    if (!iptablesCanMatchExactly(iface))
      fail(
        'EINVAL',
        `Cannot mark packets of "${iface}": iptables reads a trailing + as a wildcard`,
      );
    if (!this.#stateFile?.state.tables.includes(table)) {
      let foreign = 0;
      for (const family of FAMILIES) foreign += await this.#net.countRoutes(family, table);
      if (foreign > 0)
        fail(
          'EBUSY',
          `Cannot use table ${table} for "${iface}": it holds ${foreign} foreign route(s)`,
        );
    }
    this.#recordTable(table);
    await this.#atomically([
      ...this.#markSteps(iface, netId, permission),
      ...this.#ruleSteps(physicalNetworkRules(netId, iface, table, permission)),
    ]);
    this.#memberTables.set(iface, table);
  }

  /**
   * Removes `iface` from physical network `netId`: mark and rules (those already gone are
   * ignored), then flushes the interface's table and its tethering rules. Every step is tried;
   * the first real failure is rethrown at the end.
   */
  async removeInterfaceFromPhysicalNetwork(
    netId: number,
    iface: string,
    permission: Permission,
  ): Promise<void> {
    const table = await this.#requireTable(iface);
    this.#memberTables.delete(iface);
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<void>): Promise<void> => {
      try {
        await step();
      } catch (error: unknown) {
        if (!isGone(error)) errors.push(error);
      }
    };
    await attempt(() => this.#removeMark(iface, netId, permission));
    for (const rule of physicalNetworkRules(netId, iface, table, permission)) {
      for (const family of FAMILIES) await attempt(() => this.#deleteRule(family, rule));
    }
    await attempt(() => this.flushRoutes(iface, table));
    await attempt(() => this.clearTetheringRules(iface, table));
    if (errors.length > 0) throw errors[0];
  }

  /** Adds `iface` to the local network (mark with netId 99, output rules to table 97). */
  async addInterfaceToLocalNetwork(iface: string): Promise<void> {
    if (!isValidInterfaceName(iface))
      fail('ESRCH', `Cannot add "${iface}" to the local network: invalid name`);
    if (!iptablesCanMatchExactly(iface))
      fail(
        'EINVAL',
        `Cannot mark packets of "${iface}": iptables reads a trailing + as a wildcard`,
      );
    await this.#atomically([
      ...this.#markSteps(iface, LOCAL_NET_ID, 'NONE'),
      ...this.#ruleSteps(outputInterfaceRules(iface, ROUTE_TABLE.LOCAL_NETWORK, 'NONE')),
    ]);
  }

  /** Removes `iface` from the local network (no route flush, as in netd). */
  async removeInterfaceFromLocalNetwork(iface: string): Promise<void> {
    const errors: unknown[] = [];
    try {
      await this.#removeMark(iface, LOCAL_NET_ID, 'NONE');
    } catch (error: unknown) {
      errors.push(error);
    }
    for (const rule of outputInterfaceRules(iface, ROUTE_TABLE.LOCAL_NETWORK, 'NONE')) {
      for (const family of FAMILIES) {
        try {
          await this.#deleteRule(family, rule);
        } catch (error: unknown) {
          if (!isGone(error)) errors.push(error);
        }
      }
    }
    if (errors.length > 0) throw errors[0];
  }

  /** Deletes every route of the interface's table (both families) and forgets its table. */
  async flushRoutes(iface: string, table: number): Promise<void> {
    for (const family of FAMILIES) await this.#net.flushRouteTable(family, table);
    for (const key of [...this.#journal.keys()]) {
      if (key.startsWith('route ') && key.includes(` table ${table} `)) this.#journal.delete(key);
    }
    this.#tableCache.delete(iface);
    this.#forgetTable(table);
  }

  async #routeSpec(
    iface: string,
    destination: string,
    nexthop: string | undefined,
    tableType: TableType,
  ): Promise<RouteSpec> {
    let table: number;
    switch (tableType) {
      case 'interface':
        table = await this.#requireTable(iface);
        break;
      case 'local_network':
        table = ROUTE_TABLE.LOCAL_NETWORK;
        break;
      case 'legacy_network':
        table = ROUTE_TABLE.LEGACY_NETWORK;
        break;
      case 'legacy_system':
        table = ROUTE_TABLE.LEGACY_SYSTEM;
        break;
    }
    const dest = parseDestination(destination);
    if (dest === undefined) fail('EINVAL', `Cannot parse route destination "${destination}"`);
    const hop = parseNextHop(nexthop, dest.family);
    if (hop === undefined) fail('EINVAL', `Cannot parse next hop "${nexthop ?? ''}"`);
    if (hop.kind === 'unreachable' || hop.kind === 'throw') {
      return {
        family: dest.family,
        table,
        destination: dest.prefix,
        type: hop.kind,
        scope: 'link',
        ...(hop.kind === 'throw' && dest.prefixLength === 0
          ? { metric: THROW_DEFAULT_METRIC }
          : {}),
      };
    }
    if ((await this.#net.interfaceIndex(iface)) === undefined)
      fail('ENODEV', `Cannot route via "${iface}": no such device`);
    return {
      family: dest.family,
      table,
      destination: dest.prefix,
      type: 'unicast',
      dev: iface,
      ...(hop.kind === 'gateway' ? { gateway: hop.address } : {}),
      scope: hop.kind === 'gateway' ? 'global' : 'link',
    };
  }

  /** Adds a route; a route that already exists is not an error. */
  async addRoute(
    iface: string,
    destination: string,
    nexthop: string | undefined,
    tableType: TableType,
  ): Promise<void> {
    const route = await this.#routeSpec(iface, destination, nexthop, tableType);
    if (tableType === 'interface') this.#recordTable(route.table);
    try {
      await this.#net.modifyRoute('add', route);
    } catch (error: unknown) {
      if (error instanceof NetdOperationError && error.errno === 'EEXIST') return;
      throw error;
    }
    this.#journal.set(`route ${routeKey(route)}`, () => this.#net.modifyRoute('del', route));
  }

  /** Removes a route (ESRCH when it is not there). */
  async removeRoute(
    iface: string,
    destination: string,
    nexthop: string | undefined,
    tableType: TableType,
  ): Promise<void> {
    const route = await this.#routeSpec(iface, destination, nexthop, tableType);
    await this.#net.modifyRoute('del', route);
    this.#journal.delete(`route ${routeKey(route)}`);
  }

  #tetherRule(inIface: string, table: number): RuleSpec {
    return { priority: RULE_PRIORITY.TETHERING, action: 'lookup', table, iif: inIface };
  }

  /** `ipfwd add IN OUT`: packets arriving on IN look up OUT's table (priority 18000). */
  async enableTethering(inIface: string, outIface: string): Promise<void> {
    const table = await this.#requireTable(outIface);
    if (!isValidInterfaceName(inIface))
      fail('ENAMETOOLONG', `Cannot use "${inIface}" as input interface`);
    const rule = this.#tetherRule(inIface, table);
    const key = ruleKey(4, rule);
    const entry = this.#tethering.get(key);
    if (entry !== undefined) {
      entry.count += 1;
      return;
    }
    await this.#atomically(this.#ruleSteps([rule]));
    this.#tethering.set(key, { count: 1, iif: inIface, rule });
  }

  /** `ipfwd remove IN OUT`: drops one reference; the rule goes with the last one. */
  async disableTethering(inIface: string, outIface: string): Promise<void> {
    const table = await this.#requireTable(outIface);
    if (!isValidInterfaceName(inIface))
      fail('ENAMETOOLONG', `Cannot use "${inIface}" as input interface`);
    const rule = this.#tetherRule(inIface, table);
    const key = ruleKey(4, rule);
    const entry = this.#tethering.get(key);
    if (entry !== undefined && entry.count > 1) {
      entry.count -= 1;
      return;
    }
    this.#tethering.delete(key);
    let first: unknown;
    for (const family of FAMILIES) {
      try {
        await this.#deleteRule(family, rule);
      } catch (error: unknown) {
        first ??= error;
      }
    }
    if (first !== undefined) throw first;
  }

  /**
   * Deletes every tethering rule whose input interface is `iface` (any table), and every one
   * that leads to `table` (the table of the interface that leaves).
   */
  async clearTetheringRules(iface: string, table?: number): Promise<void> {
    for (const [key, entry] of [...this.#tethering]) {
      if (entry.iif !== iface && (table === undefined || entry.rule.table !== table)) continue;
      this.#tethering.delete(key);
      for (const family of FAMILIES) {
        try {
          await this.#deleteRule(family, entry.rule);
        } catch (error: unknown) {
          if (!isGone(error)) throw error;
        }
      }
    }
  }

  /**
   * Removes everything still recorded in the journal (newest first). Failures are collected,
   * not thrown: shutdown goes on.
   *
   * @returns one message per step that failed
   */
  async shutdown(): Promise<string[]> {
    const problems: string[] = [];
    this.#tethering.clear();
    for (const [key, undo] of [...this.#journal].reverse()) {
      try {
        await undo();
      } catch (error: unknown) {
        if (!isGone(error))
          problems.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
      }
      this.#journal.delete(key);
    }
    this.#memberTables.clear();
    return problems;
  }
}
