/**
 * The transmit ring of the userspace data path: ESP packets are built and sealed in place in
 * native memory and leave in batches, one `sendmmsg` per encapsulation socket and batch.
 *
 * When: a datagram committed while a receive batch is delivered (an echo, a reply, a closed
 * send loop) leaves with the batch's other replies when the batch ends; any other leaves in a
 * microtask, once the synchronous run that queued it is over (a burst sent in a loop leaves in
 * one call). Nothing waits for a later turn of the event loop, so no latency is added.
 *
 * Why: a `dgram.send` per datagram (a request object, a libuv request, a `sendmsg`, a completion
 * callback) is most of the cost of a small protected datagram. Here a datagram costs its share of
 * one foreign call and one kernel entry, the sealing writes no copy (the native AEAD ciphers
 * encrypt where the packet lies), and no JavaScript buffer is allocated for it.
 *
 * Order and completion: each `commit` returns a promise settled when the kernel took the datagram
 * (or refused it); datagrams of one socket leave in commit order. A full socket buffer (`EAGAIN`)
 * hands the rest of that socket's run to the socket's own send path (which waits for room),
 * copying each packet out of the ring first; while datagrams of a socket still wait there, its
 * later runs are handed over too, behind them, instead of overtaking them. Any other error fails that one datagram (counted `sendDropped('error')`,
 * the promise rejects with an errno error as `dgram` would) and the run goes on.
 *
 * Safety: the ring is process-wide and JavaScript is single threaded; a slot is claimed before it
 * is written and either committed or abandoned (a claim while another is open returns
 * `undefined`, and the caller takes the `dgram` path); a socket flushes the ring before it closes,
 * so no `sendmmsg` ever names a descriptor after `close` (the number could be reused). A failing send rejects only its own promise. Clear text
 * exists in a slot only between the payload copy and the in-place seal, both synchronous; a failed
 * seal zeroes the packet.
 *
 * Offered when the ESP crypto provider is the native one (the ring is native packet memory the
 * ciphers recognise) and `UdpSendBatch` is available; `TSNETD_UDP_SENDMMSG=off` turns it off (the
 * `dgram.send` path is then used everywhere, as with the node:crypto provider).
 *
 * @module
 */
import { allocateNativePacketMemory, nativeAddressOf } from '../esp/transforms/native/openssl.ts';
import { errnoName, UdpSendBatch } from '../sys/mod.ts';
import type { DatapathStatistics } from './statistics.ts';

/** Slots of the ring: datagrams one `sendmmsg` round may carry. */
export const TX_RING_SLOTS = 64;
/** Bytes per slot: room for the largest UDP payload. */
export const TX_RING_SLOT_LENGTH = 65536;
/** The environment variable that turns the ring off (`TSNETD_UDP_SENDMMSG=off`). */
export const UDP_SENDMMSG_ENV = 'TSNETD_UDP_SENDMMSG';

const EAGAIN = 11;
const EBADF = 9;

/** What the ring needs of an encapsulation socket. */
export interface EspTxSender {
  /** The socket's descriptor. */
  readonly fd: number;
  /**
   * Datagrams of this socket still waiting for room in the kernel's send buffer: while > 0, the
   * ring hands its datagrams over behind them instead of sending (they would overtake them).
   */
  readonly sendQueueLength: number;
  /** The `dgram` path, for datagrams the kernel could not take at once. */
  sendRaw(bytes: Uint8Array, port: number, address: string): Promise<void>;
}

let shared: EspTxRing | undefined | null;

/**
 * The process-wide transmit ring.
 *
 * @example
 * ```ts
 * import { EspTxRing } from './esp_tx_ring.ts';
 * const ring = EspTxRing.shared(); // undefined with the node:crypto provider or off Linux
 * console.log(ring === undefined || ring.pending === 0); // true
 * ```
 */
export class EspTxRing {
  readonly #memory: Uint8Array;
  readonly #slots: Uint8Array[] = [];
  readonly #addresses: number[] = [];
  readonly #batch: UdpSendBatch;
  readonly #senders: EspTxSender[] = [];
  readonly #lengths: number[] = [];
  readonly #ports: number[] = [];
  readonly #destinations: string[] = [];
  readonly #statistics: DatapathStatistics[] = [];
  readonly #resolves: (() => void)[] = [];
  readonly #rejects: ((err: Error) => void)[] = [];
  #claimed = false;
  /** Open {@link EspTxRing.hold}s: while > 0, commits wait for the last release. */
  #holds = 0;
  #scheduled = false;
  readonly #flushScheduled = (): void => {
    this.#scheduled = false;
    if (this.#holds === 0) this.flush();
  };

  private constructor(memory: Uint8Array, batch: UdpSendBatch) {
    this.#memory = memory;
    this.#batch = batch;
    for (let i = 0; i < TX_RING_SLOTS; i++) {
      const slot = memory.subarray(i * TX_RING_SLOT_LENGTH, (i + 1) * TX_RING_SLOT_LENGTH);
      this.#slots.push(slot);
      this.#addresses.push(nativeAddressOf(slot) as number);
    }
  }

  /**
   * The ring, created on first call; `undefined` when it is not offered (see the module header).
   */
  static shared(): EspTxRing | undefined {
    if (shared !== undefined) return shared ?? undefined;
    shared = null;
    if (process.env[UDP_SENDMMSG_ENV] === 'off') return undefined;
    const memory = allocateNativePacketMemory(TX_RING_SLOTS * TX_RING_SLOT_LENGTH);
    if (memory === undefined || nativeAddressOf(memory) === undefined) return undefined;
    const batch = UdpSendBatch.create(TX_RING_SLOTS);
    if (batch === undefined) return undefined;
    shared = new EspTxRing(memory, batch);
    return shared;
  }

  /** Datagrams queued and not yet handed to the kernel. */
  get pending(): number {
    return this.#batch.length;
  }

  /**
   * Claims the next slot (flushing first when every slot is queued): the caller writes one packet
   * at its start, then calls {@link EspTxRing.commit} or {@link EspTxRing.abandon}.
   *
   * @returns the slot, or `undefined` while another claim is open
   */
  claim(): Uint8Array | undefined {
    if (this.#claimed) return undefined;
    if (this.#batch.length === TX_RING_SLOTS) this.flush();
    this.#claimed = true;
    return this.#slots[this.#batch.length];
  }

  /** Gives the claimed slot back unused; its bytes are zeroed. */
  abandon(): void {
    if (!this.#claimed) return;
    this.#claimed = false;
    this.#slots[this.#batch.length]?.fill(0);
  }

  /**
   * Queues the claimed slot's first `length` bytes for (`destination`, `port`) from `sender`.
   *
   * @param destinationBytes the destination's 4 or 16 address bytes
   * @param statistics where the send (or its failure) is counted, as `'esp'`
   * @returns settled when the kernel took the datagram; rejects with an errno error
   */
  commit(
    sender: EspTxSender,
    length: number,
    port: number,
    destination: string,
    destinationBytes: Uint8Array,
    statistics: DatapathStatistics,
  ): Promise<void> {
    if (!this.#claimed) throw new Error('Cannot queue a datagram: no slot is claimed');
    this.#claimed = false;
    const i = this.#batch.length;
    if (!Number.isInteger(length) || length < 1 || length > TX_RING_SLOT_LENGTH) {
      this.#slots[i]?.fill(0);
      throw new RangeError(`Cannot queue a datagram of ${String(length)} bytes`);
    }
    this.#batch.add(this.#addresses[i] as number, length, destinationBytes, port);
    this.#senders[i] = sender;
    this.#lengths[i] = length;
    this.#ports[i] = port;
    this.#destinations[i] = destination;
    this.#statistics[i] = statistics;
    const settled = new Promise<void>((resolve, reject) => {
      this.#resolves[i] = resolve;
      this.#rejects[i] = reject;
    });
    if (this.#holds === 0 && !this.#scheduled) {
      // Outside a receive batch: the datagram leaves once the current synchronous run is over
      // (with any others it queues), so no latency is added.
      this.#scheduled = true;
      queueMicrotask(this.#flushScheduled);
    }
    return settled;
  }

  /**
   * Holds commits back until the matching {@link EspTxRing.release}: a receive batch holds the
   * ring while it delivers, so that every reply its datagrams cause leaves in one `sendmmsg`.
   */
  hold(): void {
    this.#holds++;
  }

  /** Ends a {@link EspTxRing.hold}; the last release flushes. */
  release(): void {
    if (this.#holds === 0) return;
    if (--this.#holds === 0) this.flush();
  }

  /** Hands every queued datagram to the kernel now (also before a sender's socket closes). */
  flush(): void {
    const n = this.#batch.length;
    if (n === 0) return;
    const senders = this.#senders;
    let i = 0;
    while (i < n) {
      const sender = senders[i] as EspTxSender;
      let end = i + 1;
      while (end < n && senders[end] === sender) end++;
      let k = i;
      const fd = sender.fd;
      if (fd < 0) {
        // The socket was closed after these were queued: refuse them, never name a descriptor.
        for (; k < end; k++) this.#settle(k, EBADF);
      } else if (sender.sendQueueLength > 0) {
        // Earlier datagrams of this socket wait for room: queue behind them, in commit order.
        for (; k < end; k++) this.#handOver(k);
      }
      while (k < end) {
        const sent = this.#batch.send(fd, k, end - k);
        if (sent > 0) {
          for (let m = k; m < k + sent; m++) this.#settle(m, undefined);
          k += sent;
        } else if (-sent === EAGAIN) {
          for (let m = k; m < end; m++) this.#handOver(m);
          k = end;
        } else {
          this.#settle(k, -sent);
          k++;
        }
      }
      i = end;
    }
    this.#batch.clear();
    senders.length = 0;
    this.#statistics.length = 0;
    this.#resolves.length = 0;
    this.#rejects.length = 0;
    this.#destinations.length = 0;
  }

  #settle(i: number, errno: number | undefined): void {
    const statistics = this.#statistics[i] as DatapathStatistics;
    if (errno === undefined) {
      statistics.sent('esp', this.#lengths[i] as number);
      (this.#resolves[i] as () => void)();
      return;
    }
    statistics.sendDropped('error');
    const code = errnoName(errno);
    const destination = this.#destinations[i] as string;
    const port = this.#ports[i] as number;
    const err = Object.assign(new Error(`sendmmsg ${code} ${destination}:${port}`), {
      errno: -errno,
      code,
      syscall: 'sendmmsg',
      address: destination,
      port,
    });
    (this.#rejects[i] as (err: Error) => void)(err);
  }

  /** The kernel had no room: copy the packet out and let `dgram` (libuv) wait for room. */
  #handOver(i: number): void {
    const statistics = this.#statistics[i] as DatapathStatistics;
    const length = this.#lengths[i] as number;
    const resolve = this.#resolves[i] as () => void;
    const reject = this.#rejects[i] as (err: Error) => void;
    const bytes = Uint8Array.from((this.#slots[i] as Uint8Array).subarray(0, length));
    (this.#senders[i] as EspTxSender)
      .sendRaw(bytes, this.#ports[i] as number, this.#destinations[i] as string)
      .then(
        () => {
          statistics.sent('esp', length);
          resolve();
        },
        (err: unknown) => {
          statistics.sendDropped('error');
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
  }

  /** Bytes of native memory the ring holds (virtual; pages are touched only as slots are used). */
  get memoryLength(): number {
    return this.#memory.length;
  }
}
