/**
 * Per-kind packet counters of the userspace data path (per-packet failures are counted, never
 * thrown). Every key is listed by {@link DatapathCounter} and always present in a snapshot:
 *
 * - `rx.<kind>` / `rx.<kind>.bytes`: datagrams received and their UDP payload bytes — `esp`,
 *   `ike`, `keepalive` on an encapsulation socket, `clear` on a protected socket, `delivered`:
 *   opened from ESP and handed to a protected socket (inner payload bytes);
 * - `tx.<kind>` / `tx.<kind>.bytes`: datagrams handed to the OS — `esp` (sealed, bytes as on the
 *   wire inside UDP), `clear`, `ike`, `keepalive`;
 * - `drop.<reason>`: received datagrams dropped ({@link DatapathDropReason});
 * - `tx.drop.<reason>`: datagrams an application or the keepalive timer asked to send that did
 *   not leave ({@link DatapathSendDropReason});
 * - `error.encap-socket`: errors reported by an encapsulation socket.
 *
 * A {@link DatapathStatistics} may have a parent: every count is added to both (the engine keeps
 * the totals, each `IpSecManager` its own traffic).
 */

/** Why the data path dropped a received datagram (ESP engine reasons plus the data path's own). */
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
  | 'not-applied'
  | 'unprotected'
  | 'transform-closed'
  | 'ike-no-listener';

/** Why a datagram to send did not leave. */
export type DatapathSendDropReason =
  | 'transform-closed'
  | 'destination-mismatch'
  | 'too-long'
  | 'error';

/** Kinds of received datagrams. */
export type DatapathReceiveKind = 'esp' | 'ike' | 'keepalive' | 'clear' | 'delivered';

/** Kinds of sent datagrams. */
export type DatapathSendKind = 'esp' | 'ike' | 'keepalive' | 'clear';

/** Every counter key. */
export type DatapathCounter =
  | `rx.${DatapathReceiveKind}`
  | `rx.${DatapathReceiveKind}.bytes`
  | `tx.${DatapathSendKind}`
  | `tx.${DatapathSendKind}.bytes`
  | `drop.${DatapathDropReason}`
  | `tx.drop.${DatapathSendDropReason}`
  | 'error.encap-socket';

const RECEIVE_KINDS: readonly DatapathReceiveKind[] = [
  'esp',
  'ike',
  'keepalive',
  'clear',
  'delivered',
];
const SEND_KINDS: readonly DatapathSendKind[] = ['esp', 'ike', 'keepalive', 'clear'];
const DROP_REASONS: readonly DatapathDropReason[] = [
  'truncated',
  'no-sa',
  'replay',
  'auth',
  'bad-padding',
  'dummy',
  'keepalive',
  'not-udp',
  'bad-inner-udp',
  'no-socket',
  'not-applied',
  'unprotected',
  'transform-closed',
  'ike-no-listener',
];
const SEND_DROP_REASONS: readonly DatapathSendDropReason[] = [
  'transform-closed',
  'destination-mismatch',
  'too-long',
  'error',
];

/** Every {@link DatapathCounter}, in report order. */
export const DATAPATH_COUNTERS: readonly DatapathCounter[] = [
  ...RECEIVE_KINDS.flatMap((k) => [`rx.${k}`, `rx.${k}.bytes`] as const),
  ...SEND_KINDS.flatMap((k) => [`tx.${k}`, `tx.${k}.bytes`] as const),
  ...DROP_REASONS.map((r) => `drop.${r}` as const),
  ...SEND_DROP_REASONS.map((r) => `tx.drop.${r}` as const),
  'error.encap-socket',
];

/** A snapshot: every counter, 0 when nothing was counted. */
export type DatapathStatisticsSnapshot = Readonly<Record<DatapathCounter, number>>;

function zeroCounters(): Record<DatapathCounter, number> {
  const counters = {} as Record<DatapathCounter, number>;
  for (const key of DATAPATH_COUNTERS) counters[key] = 0;
  return counters;
}

/**
 * Monotonic counters keyed by {@link DatapathCounter}.
 *
 * @example
 * ```ts
 * import { DatapathStatistics } from 'tsnetd/datapath';
 * const total = new DatapathStatistics();
 * const mine = new DatapathStatistics(total);
 * mine.drop('auth');
 * mine.sent('esp', 60);
 * console.log(mine.snapshot()['drop.auth'], total.snapshot()['tx.esp.bytes']); // 1 60
 * ```
 */
export class DatapathStatistics {
  readonly #counters = zeroCounters();
  readonly #parent: DatapathStatistics | undefined;

  /** @param parent also receives every count (e.g. the engine's totals) */
  constructor(parent?: DatapathStatistics) {
    this.#parent = parent;
  }

  /** Adds `n` (default 1) to a counter. */
  count(key: DatapathCounter, n = 1): void {
    this.#counters[key] += n;
    this.#parent?.count(key, n);
  }

  /** One datagram of `bytes` received: `rx.<kind>` and `rx.<kind>.bytes`. */
  received(kind: DatapathReceiveKind, bytes: number): void {
    this.count(`rx.${kind}`);
    this.count(`rx.${kind}.bytes`, bytes);
  }

  /** One datagram of `bytes` handed to the OS: `tx.<kind>` and `tx.<kind>.bytes`. */
  sent(kind: DatapathSendKind, bytes: number): void {
    this.count(`tx.${kind}`);
    this.count(`tx.${kind}.bytes`, bytes);
  }

  /** Adds 1 to `drop.<reason>` (a received datagram). */
  drop(reason: DatapathDropReason): void {
    this.count(`drop.${reason}`);
  }

  /** Adds 1 to `tx.drop.<reason>` (a datagram that was not sent). */
  sendDropped(reason: DatapathSendDropReason): void {
    this.count(`tx.drop.${reason}`);
  }

  /** A copy of every counter. */
  snapshot(): DatapathStatisticsSnapshot {
    return { ...this.#counters };
  }
}
