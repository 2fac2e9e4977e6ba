/**
 * `LinuxNet` on the real kernel without spawning `ip`: rules, routes and interface lookups over
 * one NETLINK_ROUTE socket (`src/sys/netlink`, messages from `rtnetlink.ts`), iptables changes
 * through one long-lived `iptables-restore`/`ip6tables-restore` per family (started on first
 * use, absolute path, fixed environment), sysctls as files under /proc/sys/net.
 *
 * Everything acts on the network namespace of the process (`ip netns exec NS tsnetd`): the
 * netlink socket, the iptables tools it starts and /proc/sys/net are all per namespace.
 *
 * Sysctl paths are checked component by component, not against a character class: interface
 * names may hold `+ ~ @ # " \` and more (anything but `/`, `:`, white space and NUL), and such a
 * name is a valid single directory below `conf/`.
 */
import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NetlinkError } from '../sys/errors.ts';
import { libc } from '../sys/libc.ts';
import { HOST_LITTLE_ENDIAN } from '../sys/netlink/message.ts';
import { NetlinkSocket } from '../sys/netlink/socket.ts';
import { type Errno, isErrno } from './errno.ts';
import { NetdOperationError } from './errors.ts';
import { isValidInterfaceName } from './interface_name.ts';
import { IptablesRestore } from './iptables_restore.ts';
import {
  checkSysctlPath,
  type Family,
  type LinuxNet,
  type RouteSpec,
  type RuleSpec,
  ruleKey,
} from './linux_net.ts';
import {
  decodeLink,
  decodeRoute,
  decodeRule,
  encodeDeleteDumpedRoute,
  encodeDeleteDumpedRule,
  encodeLinkRequest,
  encodeRouteDumpRequest,
  encodeRouteRequest,
  encodeRuleDumpRequest,
  encodeRuleRequest,
  NLM_F_CREATE,
  NLM_F_EXCL,
} from './rtnetlink.ts';
import { findTool } from './tool_path.ts';

/** `NETLINK_ROUTE`. */
export const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
/** `NETLINK_GET_STRICT_CHK`: the kernel honours dump filters (table of `RTM_GETROUTE`). */
const NETLINK_GET_STRICT_CHK = 12;
/** Route dumps of big tables arrive in many datagrams of up to this size. */
const RECEIVE_BUFFER_LENGTH = 1 << 16;
/** Longest sysctl value read (they are short numbers). */
const MAX_SYSCTL_LENGTH = 256;

/** Options of {@link KernelLinuxNet}. */
export interface KernelLinuxNetOptions {
  /** `iptables-restore` program. Default: found in the system directories (`findTool`). */
  readonly iptablesRestorePath?: string;
  /** `ip6tables-restore` program. Default: found in the system directories. */
  readonly ip6tablesRestorePath?: string;
  /** Root of the network sysctls. Default `/proc/sys/net`. */
  readonly sysctlRoot?: string;
}

function errnoOf(error: unknown, fallback: Errno): Errno {
  if (error instanceof NetlinkError && isErrno(error.errnoName)) return error.errnoName;
  return fallback;
}

function operationError(what: string, error: unknown, fallback: Errno = 'EIO'): NetdOperationError {
  if (error instanceof NetdOperationError) return error;
  const errno = errnoOf(error, fallback);
  return new NetdOperationError(
    errno,
    `Cannot ${what}: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}

/**
 * The kernel implementation of {@link LinuxNet}.
 *
 * @example
 * ```ts
 * const net = new KernelLinuxNet();
 * await net.interfaceIndex('lo'); // 1
 * net.close();
 * ```
 */
export class KernelLinuxNet implements LinuxNet {
  readonly #options: KernelLinuxNetOptions;
  readonly #sysctlRoot: string;
  #socket: NetlinkSocket | undefined;
  readonly #iptables = new Map<Family, IptablesRestore>();

  constructor(options: KernelLinuxNetOptions = {}) {
    this.#options = options;
    this.#sysctlRoot = options.sysctlRoot ?? '/proc/sys/net';
  }

  /** Resolves the tool paths now (start-up), so a missing tool fails before any change. */
  checkTools(): void {
    this.#restore(4);
    this.#restore(6);
  }

  /** iptables-restore processes started so far (both families). */
  get toolSpawnCount(): number {
    let n = 0;
    for (const r of this.#iptables.values()) n += r.spawnCount;
    return n;
  }

  #nl(): NetlinkSocket {
    if (this.#socket === undefined) {
      const socket = NetlinkSocket.open({
        protocol: NETLINK_ROUTE,
        receiveBufferLength: RECEIVE_BUFFER_LENGTH,
      });
      const one = new Uint8Array(4);
      new DataView(one.buffer).setInt32(0, 1, HOST_LITTLE_ENDIAN);
      // Without it the kernel ignores the table filter of route dumps (filtered again below).
      libc().setsockopt(socket.fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, one, 4);
      this.#socket = socket;
    }
    return this.#socket;
  }

  #restore(family: Family): IptablesRestore {
    let r = this.#iptables.get(family);
    if (r === undefined) {
      const path =
        family === 4
          ? (this.#options.iptablesRestorePath ?? findTool('iptables-restore'))
          : (this.#options.ip6tablesRestorePath ?? findTool('ip6tables-restore'));
      r = new IptablesRestore(path);
      this.#iptables.set(family, r);
    }
    return r;
  }

  async interfaceIndex(name: string): Promise<number | undefined> {
    if (!isValidInterfaceName(name)) return undefined;
    try {
      const replies = await this.#nl().request(encodeLinkRequest(name), {
        operation: `look up interface ${JSON.stringify(name)}`,
      });
      for (const m of replies) {
        const link = decodeLink(m);
        if (link !== undefined) return link.index;
      }
      return undefined;
    } catch (error: unknown) {
      if (error instanceof NetlinkError && (error.errno === 19 || error.errno === 2))
        return undefined;
      throw operationError(`look up interface ${JSON.stringify(name)}`, error);
    }
  }

  async modifyRule(op: 'add' | 'del', family: Family, rule: RuleSpec): Promise<void> {
    const what = `${op} rule "${ruleKey(family, rule)}"`;
    try {
      await this.#nl().request(encodeRuleRequest(op, family, rule), {
        operation: what,
        ...(op === 'add' ? { flags: NLM_F_CREATE | NLM_F_EXCL } : {}),
      });
    } catch (error: unknown) {
      throw operationError(what, error, 'EINVAL');
    }
  }

  async #dumpRules(family: Family) {
    try {
      const replies = await this.#nl().dump(encodeRuleDumpRequest(family), {
        operation: `list IPv${family} rules`,
      });
      return replies.flatMap((m) => {
        const r = decodeRule(m);
        return r === undefined ? [] : [r];
      });
    } catch (error: unknown) {
      throw operationError(`list IPv${family} rules`, error);
    }
  }

  async rulePriorities(family: Family): Promise<number[]> {
    return (await this.#dumpRules(family)).map((r) => r.priority);
  }

  async deleteRulesAt(family: Family, priorities: ReadonlySet<number>): Promise<number> {
    let deleted = 0;
    for (const rule of await this.#dumpRules(family)) {
      if (!priorities.has(rule.priority)) continue;
      try {
        await this.#nl().request(encodeDeleteDumpedRule(rule), { operation: 'delete rule' });
        deleted += 1;
      } catch (error: unknown) {
        if (!(error instanceof NetlinkError && error.errno === 2)) {
          throw operationError(`delete IPv${family} rule at ${rule.priority}`, error);
        }
      }
    }
    return deleted;
  }

  async modifyRoute(op: 'add' | 'del', route: RouteSpec): Promise<void> {
    const what = `${op} route ${route.destination} in table ${route.table}`;
    let ifindex: number | undefined;
    if (route.dev !== undefined) {
      ifindex = await this.interfaceIndex(route.dev);
      if (ifindex === undefined)
        throw new NetdOperationError(
          'ENODEV',
          `Cannot ${what}: no device ${JSON.stringify(route.dev)}`,
        );
    }
    try {
      await this.#nl().request(encodeRouteRequest(op, route, ifindex), {
        operation: what,
        ...(op === 'add' ? { flags: NLM_F_CREATE | NLM_F_EXCL } : {}),
      });
    } catch (error: unknown) {
      throw operationError(what, error, 'EINVAL');
    }
  }

  async #dumpTable(family: Family, table: number) {
    try {
      const replies = await this.#nl().dump(encodeRouteDumpRequest(family, table), {
        operation: `list IPv${family} table ${table}`,
      });
      return replies.flatMap((m) => {
        const r = decodeRoute(m);
        return r !== undefined && r.table === table ? [r] : [];
      });
    } catch (error: unknown) {
      // A table that was never created: IPv4 answers ENOENT ("FIB table does not exist").
      if (error instanceof NetlinkError && error.errno === 2) return [];
      throw operationError(`list IPv${family} table ${table}`, error);
    }
  }

  async countRoutes(family: Family, table: number): Promise<number> {
    return (await this.#dumpTable(family, table)).length;
  }

  async flushRouteTable(family: Family, table: number): Promise<void> {
    for (const route of await this.#dumpTable(family, table)) {
      try {
        await this.#nl().request(encodeDeleteDumpedRoute(route), {
          operation: `delete a route of table ${table}`,
        });
      } catch (error: unknown) {
        // Gone meanwhile (e.g. with its device): that is what we wanted.
        if (!(error instanceof NetlinkError && (error.errno === 3 || error.errno === 2))) {
          throw operationError(`flush IPv${family} table ${table}`, error);
        }
      }
    }
  }

  async iptables(family: Family, args: readonly string[]): Promise<void> {
    await this.#restore(family).apply(args);
  }

  #sysctlPath(path: string): string {
    return join(this.#sysctlRoot, ...checkSysctlPath(path));
  }

  async readSysctl(path: string): Promise<string> {
    const file = this.#sysctlPath(path);
    try {
      const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        const buffer = Buffer.alloc(MAX_SYSCTL_LENGTH);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
        return buffer.subarray(0, bytesRead).toString('latin1').trim();
      } finally {
        await handle.close();
      }
    } catch (error: unknown) {
      throw sysctlError('read', path, error);
    }
  }

  async writeSysctl(path: string, value: string): Promise<void> {
    const file = this.#sysctlPath(path);
    try {
      const handle = await open(file, constants.O_WRONLY | constants.O_NOFOLLOW);
      try {
        await handle.write(value);
      } finally {
        await handle.close();
      }
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

  close(): void {
    this.#socket?.close();
    this.#socket = undefined;
    for (const r of this.#iptables.values()) r.close();
    this.#iptables.clear();
  }
}

function sysctlError(action: string, path: string, error: unknown): NetdOperationError {
  if (error instanceof NetdOperationError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const errno: Errno = isErrno(code) ? code : 'EIO';
  return new NetdOperationError(
    errno,
    `Cannot ${action} sysctl ${JSON.stringify(path)}: ${String(code ?? error)}`,
    { cause: error },
  );
}
