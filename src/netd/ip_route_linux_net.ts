/**
 * `LinuxNet` on the real kernel through iproute2 (`ip`) and iptables/ip6tables, run with
 * `execFile` and argv arrays, plus sysctl files under /proc/sys/net.
 * /proc/sys/net is per network namespace, and so are the netlink and netfilter state the tools
 * change, so the daemon only ever touches the namespace it runs in (`ip netns exec NS tsnetd`).
 *
 * Errors: iproute2 exits 1 or 2 and prints `RTNETLINK answers: <strerror>` or a kernel
 * extended-ack line; `errnoFromToolOutput` maps that back to the errno netd would have seen.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Errno, errnoFromToolOutput } from './errno.ts';
import { NetdOperationError, ToolFailedError } from './errors.ts';
import { type ExecResult, type Executor, execFileExecutor } from './executor.ts';
import { isValidInterfaceName } from './interface_name.ts';
import {
  type Family,
  type LinuxNet,
  type RouteSpec,
  type RuleSpec,
  routeArgs,
  ruleArgs,
} from './linux_net.ts';

/** Options of {@link IpRouteLinuxNet}. */
export interface IpRouteLinuxNetOptions {
  /** Program runner. Default: `execFileExecutor`. */
  readonly executor?: Executor;
  /** `ip` program. Default `ip` (looked up in PATH). */
  readonly ipPath?: string;
  /** `iptables` program. Default `iptables`. */
  readonly iptablesPath?: string;
  /** `ip6tables` program. Default `ip6tables`. */
  readonly ip6tablesPath?: string;
  /** Root of the network sysctls. Default `/proc/sys/net`. */
  readonly sysctlRoot?: string;
}

const SYSCTL_PATH_REGEXP = /^(?:[A-Za-z0-9_.-]+\/)*[A-Za-z0-9_.-]+$/;

/**
 * iproute2/iptables implementation of {@link LinuxNet}.
 *
 * @example
 * ```ts
 * const net = new IpRouteLinuxNet();
 * await net.interfaceIndex('lo'); // 1
 * ```
 */
export class IpRouteLinuxNet implements LinuxNet {
  readonly #exec: Executor;
  readonly #ip: string;
  readonly #iptables: string;
  readonly #ip6tables: string;
  readonly #sysctlRoot: string;

  constructor(options: IpRouteLinuxNetOptions = {}) {
    this.#exec = options.executor ?? execFileExecutor;
    this.#ip = options.ipPath ?? 'ip';
    this.#iptables = options.iptablesPath ?? 'iptables';
    this.#ip6tables = options.ip6tablesPath ?? 'ip6tables';
    this.#sysctlRoot = options.sysctlRoot ?? '/proc/sys/net';
  }

  async #run(
    file: string,
    args: readonly string[],
    fallback: Errno,
    input?: Uint8Array,
  ): Promise<ExecResult> {
    const result = await this.#exec.run(file, args, input === undefined ? {} : { input });
    if (result.exitCode !== 0) {
      throw new ToolFailedError(
        errnoFromToolOutput(result.stderr, fallback),
        [file, ...args],
        result.stderr,
      );
    }
    return result;
  }

  async interfaceIndex(name: string): Promise<number | undefined> {
    if (!isValidInterfaceName(name)) return undefined;
    const result = await this.#exec.run(this.#ip, ['-o', 'link', 'show', 'dev', name]);
    if (result.exitCode !== 0) return undefined;
    const m = /^(\d+):/.exec(result.stdout.toString('utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]);
  }

  async modifyRule(op: 'add' | 'del', family: Family, rule: RuleSpec): Promise<void> {
    await this.#run(this.#ip, [`-${family}`, 'rule', op, ...ruleArgs(rule)], 'EINVAL');
  }

  async flushRules(family: Family): Promise<void> {
    await this.#run(this.#ip, [`-${family}`, 'rule', 'flush'], 'EINVAL');
  }

  async saveRules(family: Family): Promise<Uint8Array> {
    const result = await this.#run(this.#ip, [`-${family}`, 'rule', 'save'], 'EIO');
    return result.stdout;
  }

  async restoreRules(family: Family, snapshot: Uint8Array): Promise<void> {
    const before = await this.#priorityZeroTables(family);
    await this.#run(this.#ip, [`-${family}`, 'rule', 'restore'], 'EIO', snapshot);
    // `ip rule restore` re-adds the priority-0 rules that were never removed; drop one copy of
    // each ("from all lookup <table>", the only priority-0 rules Linux creates).
    for (const table of before) {
      await this.#run(
        this.#ip,
        [`-${family}`, 'rule', 'del', 'pref', '0', 'from', 'all', 'table', table],
        'EIO',
      );
    }
  }

  async #priorityZeroTables(family: Family): Promise<string[]> {
    const result = await this.#run(
      this.#ip,
      ['-j', `-${family}`, 'rule', 'show', 'pref', '0'],
      'EIO',
    );
    const parsed: unknown = JSON.parse(result.stdout.toString('utf8') || '[]');
    if (!Array.isArray(parsed)) return [];
    const tables: string[] = [];
    for (const entry of parsed as unknown[]) {
      if (typeof entry !== 'object' || entry === null) continue;
      const rec = entry as Record<string, unknown>;
      const keys = Object.keys(rec).sort().join(',');
      if (keys === 'priority,src,table' && rec.src === 'all' && typeof rec.table === 'string') {
        tables.push(rec.table);
      }
    }
    return tables;
  }

  async modifyRoute(op: 'add' | 'del', route: RouteSpec): Promise<void> {
    await this.#run(this.#ip, [`-${route.family}`, 'route', op, ...routeArgs(route)], 'EINVAL');
  }

  async flushRouteTable(family: Family, table: number): Promise<void> {
    await this.#run(this.#ip, [`-${family}`, 'route', 'flush', 'table', String(table)], 'EINVAL');
  }

  async iptables(family: Family, args: readonly string[]): Promise<void> {
    const program = family === 4 ? this.#iptables : this.#ip6tables;
    const result = await this.#exec.run(program, ['-w', ...args]);
    if (result.exitCode !== 0) {
      throw new ToolFailedError('EREMOTEIO', [program, '-w', ...args], result.stderr);
    }
  }

  #sysctlPath(path: string): string {
    if (!SYSCTL_PATH_REGEXP.test(path) || path.split('/').some((p) => p === '..' || p === '.')) {
      throw new NetdOperationError('EINVAL', `Cannot access sysctl "${path}": invalid path`);
    }
    return join(this.#sysctlRoot, path);
  }

  async readSysctl(path: string): Promise<string> {
    try {
      return (await readFile(this.#sysctlPath(path), 'utf8')).trim();
    } catch (error: unknown) {
      throw sysctlError('read', path, error);
    }
  }

  async writeSysctl(path: string, value: string): Promise<void> {
    try {
      await writeFile(this.#sysctlPath(path), value);
    } catch (error: unknown) {
      throw sysctlError('write', path, error);
    }
  }

  async listConfEntries(family: Family): Promise<string[]> {
    const dir = this.#sysctlPath(family === 4 ? 'ipv4/conf' : 'ipv6/conf');
    try {
      return (await readdir(dir)).sort();
    } catch (error: unknown) {
      throw sysctlError('list', dir, error);
    }
  }
}

function sysctlError(action: string, path: string, error: unknown): NetdOperationError {
  if (error instanceof NetdOperationError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const errno: Errno =
    code === 'ENOENT'
      ? 'ENOENT'
      : code === 'EACCES'
        ? 'EACCES'
        : code === 'EPERM'
          ? 'EPERM'
          : 'EIO';
  return new NetdOperationError(
    errno,
    `Cannot ${action} sysctl "${path}": ${String(code ?? error)}`,
    {
      cause: error,
    },
  );
}
