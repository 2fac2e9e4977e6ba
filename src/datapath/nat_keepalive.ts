/**
 * NAT-keepalive scheduling (RFC 3948 §2.3), written once for both backends: the userspace data
 * path's encapsulation sockets and the kernel backend's both register here.
 *
 * - Each encapsulation socket owns a {@link KeepaliveTargets} index: the (peer address, remote
 *   port) pairs of the SAs applied outbound through it, reference-counted. Applying, removing or
 *   deleting an SA updates the index in O(1), so a keepalive pass costs O(targets of that
 *   socket) — never a walk over every SA of the backend.
 * - One {@link NatKeepaliveScheduler} per interval serves every socket of the process with that
 *   interval: one timer, not one per socket, so sockets of many managers fire together as one
 *   pass. The pass is cut into slices of about `sliceBudgetMs` of work (default 2 ms) and at most
 *   `maxPerSlice` sends; between slices the event loop runs (`setImmediate`), so a pass over
 *   100k peers never blocks the loop for long. The budget counts a send's deferred work too: a
 *   sender built on `dgram.send` finishes (address check, the syscall) in `process.nextTick`
 *   callbacks after the slice's loop returns, so the scheduler times each slice up to a tick
 *   queued behind those sends and sizes the next slice from the measured cost per send.
 *   A pass still running when the next tick comes is not restarted (no pile-up).
 * - Keepalives carry one byte 0xFF; the send callback counts successes and failures.
 *
 * @module
 */

/** Sends one NAT-keepalive from a socket to a peer. Must not throw. */
export type KeepaliveSend = (address: string, port: number) => void;

interface Target {
  readonly address: string;
  readonly port: number;
  refs: number;
}

/**
 * The keepalive peers of one encapsulation socket: (address, port) pairs with a reference count
 * (several SAs to the same peer count once).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { NatKeepaliveScheduler } from 'tsnetd/datapath';
 * const scheduler = new NatKeepaliveScheduler(20_000);
 * const registration = scheduler.register(() => undefined);
 * registration.targets.add('192.0.2.1', 4500);
 * registration.targets.add('192.0.2.1', 4500);
 * assert.equal(registration.targets.size, 1);
 * registration.close();
 * ```
 */
export class KeepaliveTargets {
  readonly #targets = new Map<string, Target>();
  readonly #onActive: (active: boolean) => void;

  /** @param onActive called when the index becomes non-empty (`true`) or empty (`false`) */
  constructor(onActive: (active: boolean) => void) {
    this.#onActive = onActive;
  }

  /** Number of distinct peers. */
  get size(): number {
    return this.#targets.size;
  }

  /** One more SA sends to (address, port). */
  add(address: string, port: number): void {
    const key = `${port}|${address}`;
    const target = this.#targets.get(key);
    if (target !== undefined) {
      target.refs++;
      return;
    }
    this.#targets.set(key, { address, port, refs: 1 });
    if (this.#targets.size === 1) this.#onActive(true);
  }

  /** One SA fewer sends to (address, port); unknown pairs are ignored. */
  remove(address: string, port: number): void {
    const key = `${port}|${address}`;
    const target = this.#targets.get(key);
    if (target === undefined) return;
    if (--target.refs > 0) return;
    this.#targets.delete(key);
    if (this.#targets.size === 0) this.#onActive(false);
  }

  /** Forgets every peer. */
  clear(): void {
    if (this.#targets.size === 0) return;
    this.#targets.clear();
    this.#onActive(false);
  }

  /** Live iteration over the peers (entries added during a pass are visited). */
  values(): IterableIterator<Target> {
    return this.#targets.values();
  }
}

/** One socket's place in a scheduler. */
export class KeepaliveRegistration {
  /** The socket's peers; update it as SAs are applied and removed. */
  readonly targets: KeepaliveTargets;
  /** @internal */
  readonly send: KeepaliveSend;
  #closed = false;
  readonly #onClose: (r: KeepaliveRegistration) => void;

  /** @internal */
  constructor(
    send: KeepaliveSend,
    onActive: (r: KeepaliveRegistration, active: boolean) => void,
    onClose: (r: KeepaliveRegistration) => void,
  ) {
    this.send = send;
    this.targets = new KeepaliveTargets((active) => {
      if (!this.#closed) onActive(this, active);
    });
    this.#onClose = onClose;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stops keepalives of this socket (socket closed). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.targets.clear();
    this.#onClose(this);
  }
}

/** Options of {@link NatKeepaliveScheduler}. */
export interface NatKeepaliveSchedulerOptions {
  /**
   * Target length of one slice of keepalive work, deferred send work included, before yielding
   * to the event loop; default 2 ms. The next slice sends `sliceBudgetMs / cost per send`
   * keepalives (at least 1), the cost measured over the previous slices.
   */
  readonly sliceBudgetMs?: number;
  /** Most keepalives per slice whatever the measured cost; default 128. */
  readonly maxPerSlice?: number;
}

/** What the last completed pass did (for tests and status output). */
export interface KeepalivePassSummary {
  /** Keepalives handed to the sockets. */
  readonly sent: number;
  /** Event-loop slices the pass was cut into. */
  readonly slices: number;
  /** Wall time from the tick to the end of the last send's work, ms. */
  readonly durationMs: number;
  /** Longest slice, its sends' deferred work included, ms. */
  readonly longestSliceMs: number;
}

/** Sends in the first slice, before any cost per send was measured. */
const FIRST_SLICE_SENDS = 16;

const sharedSchedulers = new Map<number, NatKeepaliveScheduler>();

/**
 * A sliced keepalive pass over every registered socket with at least one peer, every
 * `intervalMs`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { NatKeepaliveScheduler } from 'tsnetd/datapath';
 * const sent: string[] = [];
 * const scheduler = new NatKeepaliveScheduler(10);
 * const registration = scheduler.register((address, port) => sent.push(`${address}:${port}`));
 * registration.targets.add('127.0.0.1', 4500);
 * await new Promise((r) => setTimeout(r, 50));
 * registration.close();
 * assert.ok(sent.length >= 1 && sent[0] === '127.0.0.1:4500');
 * ```
 */
export class NatKeepaliveScheduler {
  readonly intervalMs: number;
  readonly #sliceBudgetMs: number;
  readonly #maxPerSlice: number;
  readonly #active = new Set<KeepaliveRegistration>();
  #timer: NodeJS.Timeout | undefined;
  #queue: KeepaliveRegistration[] = [];
  #queueIndex = 0;
  #iterator: Iterator<Target> | undefined;
  #draining = false;
  #passStart = 0;
  #passSent = 0;
  #passSlices = 0;
  #passLongestSliceMs = 0;
  /** Estimated cost of one send, deferred work included, ms; 0 = not measured yet. */
  #costPerSendMs = 0;
  #passes = 0;
  #last: KeepalivePassSummary | undefined;

  /**
   * @param intervalMs 1..2^31-1
   * @throws {RangeError} interval out of range
   */
  constructor(intervalMs: number, options: NatKeepaliveSchedulerOptions = {}) {
    if (!Number.isInteger(intervalMs) || intervalMs < 1 || intervalMs > 0x7fffffff) {
      throw new RangeError(
        `Cannot schedule NAT-keepalives: intervalMs must be an integer in 1..2147483647, got ${String(intervalMs)}`,
      );
    }
    this.intervalMs = intervalMs;
    this.#sliceBudgetMs = options.sliceBudgetMs ?? 2;
    this.#maxPerSlice = Math.max(1, options.maxPerSlice ?? 128);
  }

  /**
   * The process-wide scheduler for `intervalMs`: every encapsulation socket with the same
   * interval (any manager, either backend) shares its timer and its sliced passes.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { NatKeepaliveScheduler } from 'tsnetd/datapath';
   * assert.equal(NatKeepaliveScheduler.shared(20_000), NatKeepaliveScheduler.shared(20_000));
   * ```
   */
  static shared(intervalMs: number): NatKeepaliveScheduler {
    let scheduler = sharedSchedulers.get(intervalMs);
    if (scheduler === undefined) {
      scheduler = new NatKeepaliveScheduler(intervalMs);
      sharedSchedulers.set(intervalMs, scheduler);
    }
    return scheduler;
  }

  /** Completed passes since creation. */
  get passes(): number {
    return this.#passes;
  }

  /** Whether a pass is in progress (started by the timer, its last slice not finished). */
  get running(): boolean {
    return this.#draining;
  }

  /** Summary of the last completed pass. */
  get lastPass(): KeepalivePassSummary | undefined {
    return this.#last;
  }

  /** Registers a socket; keepalives start once its targets are non-empty. */
  register(send: KeepaliveSend): KeepaliveRegistration {
    return new KeepaliveRegistration(
      send,
      (r, active) => {
        if (active) this.#active.add(r);
        else this.#active.delete(r);
        this.#updateTimer();
      },
      (r) => {
        this.#active.delete(r);
        this.#updateTimer();
      },
    );
  }

  #updateTimer(): void {
    if (this.#active.size > 0 && this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), this.intervalMs);
      this.#timer.unref();
    } else if (this.#active.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #tick(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#queue = [...this.#active];
    this.#queueIndex = 0;
    this.#iterator = undefined;
    this.#passStart = performance.now();
    this.#passSent = 0;
    this.#passSlices = 0;
    this.#passLongestSliceMs = 0;
    this.#drain();
  }

  /** Sends allowed in the next slice: the budget over the measured cost per send. */
  #sliceLimit(): number {
    if (this.#costPerSendMs === 0) return Math.min(FIRST_SLICE_SENDS, this.#maxPerSlice);
    const fit = Math.floor(this.#sliceBudgetMs / this.#costPerSendMs);
    return Math.max(1, Math.min(this.#maxPerSlice, fit));
  }

  #drain(): void {
    this.#passSlices++;
    const start = performance.now();
    const deadline = start + this.#sliceBudgetMs;
    const limit = this.#sliceLimit();
    let sent = 0;
    const queue = this.#queue;
    let done = true;
    while (this.#queueIndex < queue.length) {
      const registration = queue[this.#queueIndex]!;
      if (registration.closed) {
        this.#queueIndex++;
        this.#iterator = undefined;
        continue;
      }
      this.#iterator ??= registration.targets.values();
      const next = this.#iterator.next();
      if (next.done === true) {
        this.#queueIndex++;
        this.#iterator = undefined;
        continue;
      }
      registration.send(next.value.address, next.value.port);
      sent++;
      if (sent >= limit || ((sent & 31) === 0 && performance.now() >= deadline)) {
        done = false;
        break;
      }
    }
    this.#passSent += sent;
    // Queued behind the ticks the sends queued: runs once their deferred work is done.
    process.nextTick(() => this.#endSlice(start, sent, done));
  }

  #endSlice(start: number, sent: number, done: boolean): void {
    const end = performance.now();
    const elapsed = end - start;
    if (elapsed > this.#passLongestSliceMs) this.#passLongestSliceMs = elapsed;
    if (sent > 0) {
      const cost = elapsed / sent;
      // Follow a rise at once, a fall slowly: a slice must not overrun twice in a row.
      this.#costPerSendMs =
        this.#costPerSendMs === 0 || cost > this.#costPerSendMs
          ? cost
          : this.#costPerSendMs * 0.75 + cost * 0.25;
    }
    if (!done) {
      setImmediate(() => this.#drain());
      return;
    }
    this.#queue = [];
    this.#draining = false;
    this.#passes++;
    this.#last = {
      sent: this.#passSent,
      slices: this.#passSlices,
      durationMs: end - this.#passStart,
      longestSliceMs: this.#passLongestSliceMs,
    };
  }
}
