/**
 * IP forwarding driven by a set of requesters (`ipfwd enable|disable`;
 * `TetherController::setIpFwdEnabled`, Android 9): a non-empty set writes 1 to
 * `ipv4/ip_forward` and `ipv6/conf/all/forwarding`.
 *
 * Coexistence: nothing is written before the first requester arrives, and when the last one
 * goes the host's own values come back (Android writes 0 and clears `accept_redirects`). The
 * kernel rewrites other sysctls when those two change — every interface's `forwarding` (IPv4
 * and IPv6), `conf/default/forwarding`, `conf/all/accept_redirects` — so before the first write
 * every `forwarding` and `accept_redirects` sysctl of `all`, `default` and each interface (IPv4
 * and IPv6, plus `ip_forward`) is saved, and restored in an order that undoes the kernel's own
 * propagation: the two global switches first, then every other value. The snapshot is
 * persisted in the {@link StateFile} before any write, so a daemon started after a SIGKILL
 * restores it too.
 */
import { NetdOperationError } from './errors.ts';
import type { Family, LinuxNet } from './linux_net.ts';
import type { StateFile } from './state_file.ts';

const IPV4_FORWARDING = 'ipv4/ip_forward';
const IPV6_FORWARDING = 'ipv6/conf/all/forwarding';
/** Written (and restored) first: writing them makes the kernel rewrite the others. */
const GLOBAL_SWITCHES: readonly string[] = [IPV4_FORWARDING, IPV6_FORWARDING];
/** The per-entry sysctls the forwarding switches touch. */
const CONF_KEYS: readonly string[] = ['forwarding', 'accept_redirects'];
/**
 * Most distinct forwarding requesters (an implementation limit; Android has none). Each one is
 * up to 1023 bytes held for the daemon's lifetime, so without a bound any client could grow
 * the daemon's memory without limit. Beyond it `ipfwd enable` fails with ENOSPC.
 */
export const MAX_FORWARDING_REQUESTERS = 256;

/**
 * Writes saved sysctl values back: the global switches first, then the rest in saved order.
 * Vanished interfaces (ENOENT) are skipped.
 *
 * @returns one message per value that could not be written
 */
export async function restoreSysctls(
  net: LinuxNet,
  saved: Readonly<Record<string, string>>,
): Promise<string[]> {
  const problems: string[] = [];
  const order = [
    ...GLOBAL_SWITCHES.filter((p) => Object.hasOwn(saved, p)),
    ...Object.keys(saved).filter((p) => !GLOBAL_SWITCHES.includes(p)),
  ];
  for (const path of order) {
    try {
      await net.writeSysctl(path, saved[path] as string);
    } catch (error: unknown) {
      if (!(error instanceof NetdOperationError && error.errno === 'ENOENT'))
        problems.push(`${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return problems;
}

/**
 * The forwarding requester set and the sysctls it drives.
 *
 * @example
 * ```ts
 * const tether = new TetherController(new MemoryLinuxNet());
 * await tether.enableForwarding('tethering');
 * tether.forwardingRequestCount; // 1
 * ```
 */
export class TetherController {
  readonly #net: LinuxNet;
  readonly #requesters = new Set<string>();
  /** The host's values, saved before the first write; undefined while nothing is changed. */
  #saved: Record<string, string> | undefined;
  readonly #stateFile: StateFile | undefined;

  constructor(net: LinuxNet, stateFile?: StateFile) {
    this.#net = net;
    this.#stateFile = stateFile;
  }

  /** Number of distinct requesters; forwarding is on when it is not 0. */
  get forwardingRequestCount(): number {
    return this.#requesters.size;
  }

  /**
   * Start-up: writes back the values a dead predecessor saved (its requesters are gone), and
   * changes nothing else.
   *
   * @returns one message per value that could not be restored
   */
  async init(): Promise<string[]> {
    const saved = this.#stateFile?.recovered?.sysctls;
    if (saved === undefined || Object.keys(saved).length === 0) return [];
    return restoreSysctls(this.#net, saved);
  }

  /** Adds a requester (idempotent); the first one turns forwarding on. */
  async enableForwarding(requester: string): Promise<void> {
    if (!this.#requesters.has(requester) && this.#requesters.size >= MAX_FORWARDING_REQUESTERS) {
      throw new NetdOperationError(
        'ENOSPC',
        `Cannot add forwarding requester: ${MAX_FORWARDING_REQUESTERS} already registered`,
      );
    }
    this.#requesters.add(requester);
    if (this.#saved === undefined) {
      try {
        await this.#snapshot();
      } catch (error: unknown) {
        this.#requesters.delete(requester);
        throw error;
      }
    }
    const errors: unknown[] = [];
    for (const path of GLOBAL_SWITCHES) {
      try {
        await this.#net.writeSysctl(path, '1');
      } catch (error: unknown) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw asOperationError(errors[0]);
  }

  /** Removes a requester (idempotent); when none is left the host's values come back. */
  async disableForwarding(requester: string): Promise<void> {
    this.#requesters.delete(requester);
    if (this.#requesters.size > 0 || this.#saved === undefined) return;
    await this.#restore(true);
  }

  async #snapshot(): Promise<void> {
    const saved: Record<string, string> = {};
    saved[IPV4_FORWARDING] = await this.#net.readSysctl(IPV4_FORWARDING);
    for (const family of [4, 6] as const satisfies readonly Family[]) {
      const entries = await this.#net.listConfEntries(family);
      // `all` and `default` first: restoring them after the switches, before the interfaces.
      const ordered = [
        ...entries.filter((e) => e === 'all'),
        ...entries.filter((e) => e === 'default'),
        ...entries.filter((e) => e !== 'all' && e !== 'default'),
      ];
      for (const entry of ordered) {
        for (const key of CONF_KEYS) {
          const path = `ipv${family}/conf/${entry}/${key}`;
          try {
            saved[path] = await this.#net.readSysctl(path);
          } catch (error: unknown) {
            // An interface that vanished while listing.
            if (!(error instanceof NetdOperationError && error.errno === 'ENOENT')) throw error;
          }
        }
      }
    }
    this.#stateFile?.update((s) => {
      s.sysctls = saved;
    });
    this.#saved = saved;
  }

  async #restore(throwOnProblem: boolean): Promise<string[]> {
    const saved = this.#saved;
    if (saved === undefined) return [];
    const problems = await restoreSysctls(this.#net, saved);
    this.#saved = undefined;
    this.#stateFile?.update((s) => {
      s.sysctls = {};
    });
    if (throwOnProblem && problems.length > 0)
      throw new NetdOperationError('EIO', `Cannot restore sysctls: ${problems.join('; ')}`);
    return problems;
  }

  /**
   * Restores the host's values if forwarding was changed.
   *
   * @returns one message per sysctl that could not be restored (vanished interfaces excluded)
   */
  async shutdown(): Promise<string[]> {
    this.#requesters.clear();
    return this.#restore(false);
  }
}

function asOperationError(error: unknown): NetdOperationError {
  return error instanceof NetdOperationError
    ? error
    : new NetdOperationError('EIO', 'Cannot set IP forwarding', { cause: error });
}
