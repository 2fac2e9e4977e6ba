/**
 * netd's RouteController on Linux policy routing, Android 9–11 recipe:
 * one table per interface (ifindex + 1000, cached by name), the fixed tables 97/98/99, the
 * start-up rules, the per-interface rules by permission, the incoming-packet MARK rules in
 * mangle `routectrl_mangle_INPUT`, routes, and the tethering rules of `ipfwd add|remove`.
 * Every rule is installed for IPv4 and IPv6.
 *
 * Everything it installs is recorded in a journal, so `shutdown()` removes exactly that and
 * then re-adds the rules that existed before `init()` flushed them. With a {@link StateFile}
 * the saved rules and the tables routes went to survive a SIGKILL: the next daemon restores
 * the original rules (not its predecessor's) and flushes the predecessor's tables.
 */
import type { Errno } from './errno.ts';
import { NetdOperationError } from './errors.ts';
import {
  FWMARK_EXPLICIT,
  FWMARK_NET_ID_MASK,
  FWMARK_PROTECTED,
  FWMARK_UID_BILLING,
  hex,
  type Permission,
  permissionMark,
} from './fwmark.ts';
import { isValidInterfaceName } from './interface_name.ts';
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
const UID_ROOT = 0;
/** Upper bound of the delete-until-ENOENT loops (clearing tethering rules, hooks). */
const MAX_REPEATED_DELETES = 1024;

/** The rules `init()` installs (RouteController::Init, Android 9). */
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
    { priority: RULE_PRIORITY.UNREACHABLE, action: 'unreachable' },
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
  /** Installed state, in installation order: key → how to remove it. */
  readonly #journal = new Map<string, Undo>();
  /** Tethering rules are reference counted (netd adds duplicates; the kernel refuses them). */
  readonly #tethering = new Map<string, { count: number; iif: string; rule: RuleSpec }>();
  readonly #savedRules = new Map<Family, Uint8Array>();
  #initialised = false;
  readonly #stateFile: StateFile | undefined;

  constructor(net: LinuxNet, stateFile?: StateFile) {
    this.#net = net;
    this.#stateFile = stateFile;
  }

  /** Number of journal entries (rules, routes, marks, chain) currently installed. */
  get installedCount(): number {
    return this.#journal.size;
  }

  /**
   * Start-up: saves and flushes every rule except priority 0, installs the base rules and the
   * `routectrl_mangle_INPUT` chain hooked from mangle INPUT.
   */
  async init(): Promise<void> {
    const recovered = this.#stateFile?.recovered;
    for (const family of FAMILIES) {
      const persisted = recovered?.rules[family === 4 ? '4' : '6'];
      if (persisted !== undefined) {
        // A predecessor died: the current rules are its leftovers, the file has the originals.
        this.#savedRules.set(family, Buffer.from(persisted, 'base64'));
      } else {
        const snapshot = await this.#net.saveRules(family);
        this.#savedRules.set(family, snapshot);
        this.#stateFile?.update((s) => {
          s.rules[family === 4 ? '4' : '6'] = Buffer.from(snapshot).toString('base64');
        });
      }
      await this.#net.flushRules(family);
    }
    this.#initialised = true;
    if (recovered !== undefined && recovered.tables.length > 0) {
      for (const table of recovered.tables) {
        for (const family of FAMILIES) {
          try {
            await this.#net.flushRouteTable(family, table);
          } catch {
            // Already empty or gone.
          }
        }
      }
      this.#stateFile?.update((s) => {
        s.tables = [];
      });
    }
    for (const rule of baseRules()) await this.#addRuleBoth(rule);
    for (const family of FAMILIES) await this.#installChain(family);
  }

  async #installChain(family: Family): Promise<void> {
    try {
      await this.#net.iptables(family, ['-t', 'mangle', '-N', LOCAL_MANGLE_INPUT]);
    } catch {
      // The chain survived an earlier run: empty it instead.
      await this.#net.iptables(family, ['-t', 'mangle', '-F', LOCAL_MANGLE_INPUT]);
    }
    this.#journal.set(`${family} chain`, async () => {
      await this.#net.iptables(family, ['-t', 'mangle', '-F', LOCAL_MANGLE_INPUT]);
      await this.#net.iptables(family, ['-t', 'mangle', '-X', LOCAL_MANGLE_INPUT]);
    });
    const hook = ['-t', 'mangle', '-D', 'INPUT', '-j', LOCAL_MANGLE_INPUT];
    for (let i = 0; i < MAX_REPEATED_DELETES; i += 1) {
      try {
        await this.#net.iptables(family, hook);
      } catch {
        break;
      }
    }
    await this.#net.iptables(family, ['-t', 'mangle', '-A', 'INPUT', '-j', LOCAL_MANGLE_INPUT]);
    this.#journal.set(`${family} hook`, () => this.#net.iptables(family, hook));
  }

  /**
   * The table of an interface: ifindex + 1000 while it exists, else the cached value, else 0.
   */
  async tableForInterface(iface: string): Promise<number> {
    const index = await this.#net.interfaceIndex(iface);
    if (index !== undefined) {
      const table = index + ROUTE_TABLE_OFFSET_FROM_INDEX;
      this.#tableCache.set(iface, table);
      return table;
    }
    return this.#tableCache.get(iface) ?? 0;
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

  /** Adds `iface` to physical network `netId` (mark, then rules); all or nothing. */
  async addInterfaceToPhysicalNetwork(
    netId: number,
    iface: string,
    permission: Permission,
  ): Promise<void> {
    const table = await this.#requireTable(iface);
    await this.#atomically([
      ...this.#markSteps(iface, netId, permission),
      ...this.#ruleSteps(physicalNetworkRules(netId, iface, table, permission)),
    ]);
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
    await attempt(() => this.clearTetheringRules(iface));
    if (errors.length > 0) throw errors[0];
  }

  /** Adds `iface` to the local network (mark with netId 99, output rules to table 97). */
  async addInterfaceToLocalNetwork(iface: string): Promise<void> {
    if (!isValidInterfaceName(iface))
      fail('ESRCH', `Cannot add "${iface}" to the local network: invalid name`);
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
    if (this.#stateFile !== undefined && !this.#stateFile.state.tables.includes(route.table)) {
      this.#stateFile.update((s) => {
        s.tables.push(route.table);
      });
    }
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

  /** Deletes every tethering rule whose input interface is `iface` (any table). */
  async clearTetheringRules(iface: string): Promise<void> {
    for (const [key, entry] of [...this.#tethering]) {
      if (entry.iif !== iface) continue;
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
   * Removes everything still recorded in the journal (newest first), then re-adds the rules
   * that existed before `init()`. Failures are collected, not thrown: shutdown goes on.
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
    if (this.#initialised) {
      for (const family of FAMILIES) {
        const saved = this.#savedRules.get(family);
        if (saved === undefined) continue;
        try {
          await this.#net.restoreRules(family, saved);
        } catch (error: unknown) {
          problems.push(
            `restore IPv${family} rules: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
      this.#initialised = false;
    }
    return problems;
  }
}
