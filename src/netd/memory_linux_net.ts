/**
 * In-memory `LinuxNet` double with the kernel's errno behaviour (see the contract in
 * linux_net.ts). Used by the protocol transcripts and controller tests; the real kernel is
 * exercised by the netns tests through `KernelLinuxNet`. Records every operation in `log`.
 */
import { NetdOperationError } from './errors.ts';
import { isValidInterfaceName } from './interface_name.ts';
import {
  type Family,
  type LinuxNet,
  type RouteSpec,
  type RuleSpec,
  routeArgs,
  ruleArgs,
  ruleKey,
} from './linux_net.ts';

/** Options of {@link MemoryLinuxNet}. */
export interface MemoryLinuxNetOptions {
  /** Interfaces that exist, in ifindex order starting at 2 (`lo` is always 1). */
  readonly interfaces?: readonly string[];
}

interface RouteEntry {
  readonly key: string;
  readonly table: number;
  readonly family: Family;
}

/**
 * A fake kernel for netd's controllers.
 *
 * @example
 * ```ts
 * const net = new MemoryLinuxNet({ interfaces: ['oem0'] });
 * await net.interfaceIndex('oem0'); // 2
 * ```
 */
export class MemoryLinuxNet implements LinuxNet {
  readonly #ifindex = new Map<string, number>([['lo', 1]]);
  #nextIndex = 2;
  readonly #rules: Record<Family, string[]> = {
    4: ['pref 0 table 255', 'pref 32766 table 254', 'pref 32767 table 253'],
    6: ['pref 0 table 255', 'pref 32766 table 254'],
  };
  readonly #routes: RouteEntry[] = [];
  readonly #sysctl = new Map<string, string>([
    ['ipv4/ip_forward', '0'],
    ['ipv6/conf/all/forwarding', '0'],
  ]);
  /** Every mutating call, one line each (`ip -4 rule add …`, `iptables …`, `sysctl … = …`). */
  readonly log: string[] = [];
  /** iptables argument lists currently "installed" (after -A / -N), for inspection. */
  readonly iptablesState: string[] = [];

  constructor(options: MemoryLinuxNetOptions = {}) {
    for (const name of options.interfaces ?? []) this.addInterface(name);
  }

  /** Creates an interface (like `ip link add`). */
  addInterface(name: string): void {
    this.#ifindex.set(name, this.#nextIndex);
    this.#nextIndex += 1;
  }

  /** Removes an interface; its unicast routes go with it, as in the kernel. */
  removeInterface(name: string): void {
    this.#ifindex.delete(name);
    for (let i = this.#routes.length - 1; i >= 0; i -= 1) {
      if (this.#routes[i]?.key.includes(` dev ${name} `)) this.#routes.splice(i, 1);
    }
  }

  /** The rules of a family as `ruleArgs` strings, in insertion order. */
  rules(family: Family): readonly string[] {
    return [...this.#rules[family]];
  }

  /** The routes of a table. */
  routes(family: Family, table: number): string[] {
    return this.#routes.filter((r) => r.family === family && r.table === table).map((r) => r.key);
  }

  async interfaceIndex(name: string): Promise<number | undefined> {
    return isValidInterfaceName(name) ? this.#ifindex.get(name) : undefined;
  }

  async modifyRule(op: 'add' | 'del', family: Family, rule: RuleSpec): Promise<void> {
    const key = ruleArgs(rule).join(' ');
    this.log.push(`ip -${family} rule ${op} ${key}`);
    const list = this.#rules[family];
    const at = list.indexOf(key);
    if (op === 'add') {
      if (at !== -1)
        throw new NetdOperationError('EEXIST', `Cannot add rule ${ruleKey(family, rule)}`);
      list.push(key);
    } else {
      if (at === -1)
        throw new NetdOperationError('ENOENT', `Cannot delete rule ${ruleKey(family, rule)}`);
      list.splice(at, 1);
    }
  }

  async rulePriorities(family: Family): Promise<number[]> {
    return this.#rules[family].map((r) => Number(r.split(' ')[1])).sort((a, b) => a - b);
  }

  async deleteRulesAt(family: Family, priorities: ReadonlySet<number>): Promise<number> {
    const before = this.#rules[family].length;
    this.#rules[family] = this.#rules[family].filter(
      (r) => !priorities.has(Number(r.split(' ')[1])),
    );
    return before - this.#rules[family].length;
  }

  async countRoutes(family: Family, table: number): Promise<number> {
    return this.routes(family, table).length;
  }

  async modifyRoute(op: 'add' | 'del', route: RouteSpec): Promise<void> {
    const key = routeArgs(route).join(' ');
    this.log.push(`ip -${route.family} route ${op} ${key}`);
    if (route.dev !== undefined && !this.#ifindex.has(route.dev)) {
      throw new NetdOperationError('ENODEV', `Cannot ${op} route ${key}: no such device`);
    }
    const at = this.#routes.findIndex((r) => r.key === key && r.family === route.family);
    if (op === 'add') {
      if (at !== -1) throw new NetdOperationError('EEXIST', `Cannot add route ${key}`);
      this.#routes.push({ key, table: route.table, family: route.family });
    } else {
      if (at === -1) throw new NetdOperationError('ESRCH', `Cannot delete route ${key}`);
      this.#routes.splice(at, 1);
    }
  }

  async flushRouteTable(family: Family, table: number): Promise<void> {
    this.log.push(`ip -${family} route flush table ${table}`);
    for (let i = this.#routes.length - 1; i >= 0; i -= 1) {
      const r = this.#routes[i];
      if (r !== undefined && r.family === family && r.table === table) this.#routes.splice(i, 1);
    }
  }

  async iptables(family: Family, args: readonly string[]): Promise<void> {
    const line = `${family === 4 ? 'iptables' : 'ip6tables'} ${args.join(' ')}`;
    this.log.push(line);
    const verb = args[2];
    const body = `${family} ${args.slice(3).join(' ')}`;
    const table = args[1];
    const state = `${table} ${body}`;
    if (verb === '-A' || verb === '-N') {
      const entry = verb === '-N' ? `${table} ${family} chain ${args[3]}` : state;
      if (verb === '-N' && this.iptablesState.includes(entry)) {
        throw new NetdOperationError('EREMOTEIO', `Cannot run ${line}: chain exists`);
      }
      this.iptablesState.push(entry);
    } else if (verb === '-D' || verb === '-X') {
      const entry = verb === '-X' ? `${table} ${family} chain ${args[3]}` : state;
      const at = this.iptablesState.indexOf(entry);
      if (at === -1) throw new NetdOperationError('EREMOTEIO', `Cannot run ${line}: no such rule`);
      this.iptablesState.splice(at, 1);
    }
  }

  async readSysctl(path: string): Promise<string> {
    // Unwritten accept_redirects read as the kernel default, 1.
    const value = this.#sysctl.get(path) ?? (path.endsWith('/accept_redirects') ? '1' : undefined);
    if (value === undefined) throw new NetdOperationError('ENOENT', `Cannot read sysctl "${path}"`);
    return value;
  }

  async writeSysctl(path: string, value: string): Promise<void> {
    this.log.push(`sysctl ${path} = ${value}`);
    this.#sysctl.set(path, value);
  }

  async listConfEntries(_family: Family): Promise<string[]> {
    return ['all', 'default', ...this.#ifindex.keys()].sort();
  }

  close(): void {
    // Nothing to release.
  }
}
