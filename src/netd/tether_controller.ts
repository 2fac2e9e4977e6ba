/**
 * IP forwarding driven by a set of requesters (`ipfwd enable|disable`;
 * `TetherController::setIpFwdEnabled`, Android 9): a non-empty set writes 1 to
 * `ipv4/ip_forward` and `ipv6/conf/all/forwarding`; an empty set writes 0 to both and then 0
 * to `accept_redirects` of `all`, `default` and every interface, IPv4 and IPv6.
 *
 * The value each sysctl had before its first write is remembered (and persisted in the
 * {@link StateFile} when there is one, so a daemon started after a SIGKILL restores the
 * original values, not its predecessor's); `shutdown()` puts it back.
 */
import { NetdOperationError } from './errors.ts';
import type { Family, LinuxNet } from './linux_net.ts';
import type { StateFile } from './state_file.ts';

const IPV4_FORWARDING = 'ipv4/ip_forward';
/**
 * Most distinct forwarding requesters (an implementation limit; Android has none). Each one is
 * up to 1023 bytes held for the daemon's lifetime, so without a bound any client could grow
 * the daemon's memory without limit. Beyond it `ipfwd enable` fails with ENOSPC.
 */
export const MAX_FORWARDING_REQUESTERS = 256;
const IPV6_FORWARDING = 'ipv6/conf/all/forwarding';

/**
 * The forwarding requester set and the sysctls it drives.
 *
 * @example
 * ```ts
 * const tether = new TetherController(new MemoryLinuxNet());
 * await tether.init();
 * await tether.enableForwarding('tethering');
 * tether.forwardingRequestCount; // 1
 * ```
 */
export class TetherController {
  readonly #net: LinuxNet;
  readonly #requesters = new Set<string>();
  /** Original value of every sysctl written, in first-write order. */
  readonly #originals = new Map<string, string>();
  readonly #stateFile: StateFile | undefined;

  constructor(net: LinuxNet, stateFile?: StateFile) {
    this.#net = net;
    this.#stateFile = stateFile;
    // Sysctls a dead predecessor changed: restore them too, to the values it found.
    for (const [path, value] of Object.entries(stateFile?.recovered?.sysctls ?? {})) {
      this.#originals.set(path, value);
    }
  }

  /** Number of distinct requesters; forwarding is on when it is not 0. */
  get forwardingRequestCount(): number {
    return this.#requesters.size;
  }

  /** Start-up: forwarding off (the set is empty). */
  async init(): Promise<void> {
    await this.#apply();
  }

  /** Adds a requester (idempotent) and rewrites the sysctls. */
  async enableForwarding(requester: string): Promise<void> {
    if (!this.#requesters.has(requester) && this.#requesters.size >= MAX_FORWARDING_REQUESTERS) {
      throw new NetdOperationError(
        'ENOSPC',
        `Cannot add forwarding requester: ${MAX_FORWARDING_REQUESTERS} already registered`,
      );
    }
    this.#requesters.add(requester);
    await this.#apply();
  }

  /** Removes a requester (idempotent) and rewrites the sysctls. */
  async disableForwarding(requester: string): Promise<void> {
    this.#requesters.delete(requester);
    await this.#apply();
  }

  async #write(path: string, value: string): Promise<void> {
    if (!this.#originals.has(path)) {
      const original = await this.#net.readSysctl(path);
      this.#originals.set(path, original);
      this.#stateFile?.update((s) => {
        s.sysctls[path] = original;
      });
    }
    await this.#net.writeSysctl(path, value);
  }

  /** Writes every sysctl; the first failure is rethrown after all were tried. */
  async #apply(): Promise<void> {
    const value = this.#requesters.size > 0 ? '1' : '0';
    const errors: unknown[] = [];
    const attempt = async (path: string, v: string): Promise<void> => {
      try {
        await this.#write(path, v);
      } catch (error: unknown) {
        errors.push(error);
      }
    };
    await attempt(IPV4_FORWARDING, value);
    await attempt(IPV6_FORWARDING, value);
    if (this.#requesters.size === 0) {
      for (const family of [4, 6] as const satisfies readonly Family[]) {
        let entries: string[] = [];
        try {
          entries = await this.#net.listConfEntries(family);
        } catch (error: unknown) {
          errors.push(error);
        }
        for (const entry of entries)
          await attempt(`ipv${family}/conf/${entry}/accept_redirects`, '0');
      }
    }
    if (errors.length > 0) {
      const first = errors[0];
      throw first instanceof NetdOperationError
        ? first
        : new NetdOperationError('EIO', 'Cannot set IP forwarding', { cause: first });
    }
  }

  /**
   * Restores every sysctl this controller wrote (forwarding first, then the rest).
   *
   * @returns one message per sysctl that could not be restored (vanished interfaces excluded)
   */
  async shutdown(): Promise<string[]> {
    const problems: string[] = [];
    this.#requesters.clear();
    for (const [path, original] of this.#originals) {
      try {
        await this.#net.writeSysctl(path, original);
      } catch (error: unknown) {
        if (!(error instanceof NetdOperationError && error.errno === 'ENOENT')) {
          problems.push(`${path}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
    this.#originals.clear();
    return problems;
  }
}
