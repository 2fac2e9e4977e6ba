/**
 * Per-reason packet counters of the userspace data path (per-packet failures are counted,
 * never thrown). Keys are `rx.<kind>`, `tx.<kind>` and `drop.<reason>`.
 */

/** Why the data path dropped a datagram (ESP engine reasons plus the data path's own). */
export type DatapathDropReason =
  | 'truncated'
  | 'no-sa'
  | 'replay'
  | 'auth'
  | 'bad-padding'
  | 'dummy'
  | 'keepalive'
  | 'not-udp'
  | 'bad-inner-udp'
  | 'no-socket'
  | 'unprotected'
  | 'transform-closed'
  | 'ike-no-listener';

/**
 * Monotonic counters keyed by name.
 *
 * @example
 * ```ts
 * import { DatapathStatistics } from 'tsnetd/datapath';
 * const stats = new DatapathStatistics();
 * stats.drop('auth');
 * console.log(stats.snapshot()['drop.auth']); // 1
 * ```
 */
export class DatapathStatistics {
  readonly #counters = new Map<string, number>();

  /** Adds 1 to a counter. */
  count(key: string): void {
    this.#counters.set(key, (this.#counters.get(key) ?? 0) + 1);
  }

  /** Adds 1 to `drop.<reason>`. */
  drop(reason: DatapathDropReason): void {
    this.count(`drop.${reason}`);
  }

  /** A copy of every counter. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counters);
  }
}
