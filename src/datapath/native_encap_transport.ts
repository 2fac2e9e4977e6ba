/**
 * The native implementation of an encapsulation socket's transport (see `encap_transport.ts`): a
 * UDP socket owned through libc (`NativeUdpSocket`), read with `recvmmsg` into the process-wide
 * receive ring, written with `sendto` (IKE, keepalives) and, for ESP, through the transmit ring
 * (`sendmmsg`).
 *
 * Receive: on readiness, up to {@link MAX_RX_ROUNDS} `recvmmsg` calls of up to 64 datagrams each
 * (then back to the event loop, which calls again while data is queued: other sockets get their
 * turn). Every datagram is handed to the receiver as a view of its ring slot, valid only during
 * the call, and zeroed after it (ESP is opened in place: no plaintext stays in the ring). The transmit ring is held for the whole batch, so the replies the batch causes leave
 * together when it ends. A receiver that throws does not lose the rest of the batch: the error is
 * rethrown from a later tick (an uncaught exception, as a throwing `dgram` listener's would be).
 *
 * Send: `sendto` without blocking; when the kernel's buffer is full (`EAGAIN`) the datagram is
 * copied into a bounded backlog (at most {@link MAX_SEND_BACKLOG} datagrams; beyond, the send
 * fails with `ENOBUFS`) that drains, in order, when the socket is writable again. Closing rejects
 * what is still in the backlog (`ECANCELED`, as libuv does for `dgram`).
 *
 * @module
 */
import {
  errnoName,
  formatInetAddress,
  NativeUdpSocket,
  parseInetAddress,
  type UdpSource,
} from '../sys/mod.ts';
import type { EncapReceiver, EncapTransport } from './encap_transport.ts';
import { EspRxRing } from './esp_rx_ring.ts';
import type { EspTxRing } from './esp_tx_ring.ts';

/** `recvmmsg` calls per readiness callback. */
export const MAX_RX_ROUNDS = 4;
/** Destinations whose parsed address a socket remembers. */
export const MAX_DESTINATIONS = 65536;
/** Datagrams waiting for room in the kernel's send buffer, per socket. */
export const MAX_SEND_BACKLOG = 4096;

const EAGAIN = 11;
const ENOBUFS = 105;
const ECANCELED = 125;

interface Backlogged {
  readonly bytes: Uint8Array;
  readonly destination: Uint8Array;
  readonly port: number;
  readonly address: string;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** An errno error shaped like the ones `dgram` rejects with. */
function sendError(errno: number, address: string, port: number): Error {
  const code = errnoName(errno);
  return Object.assign(new Error(`send ${code} ${address}:${port}`), {
    errno: -errno,
    code,
    syscall: 'send',
    address,
    port,
  });
}

/**
 * A native transport; {@link NativeEncapTransport.open} returns `undefined` where the rings are
 * not offered.
 *
 * @example
 * ```ts
 * import { NativeEncapTransport } from './native_encap_transport.ts';
 * import { EspTxRing } from './esp_tx_ring.ts';
 * const ring = EspTxRing.shared();
 * const transport = ring && NativeEncapTransport.open('IPv4', 0, ring);
 * await transport?.close();
 * ```
 */
export class NativeEncapTransport implements EncapTransport {
  readonly port: number;
  readonly #socket: NativeUdpSocket;
  readonly #family: 'IPv4' | 'IPv6';
  readonly #rx: EspRxRing;
  readonly #tx: EspTxRing;
  readonly #backlog: Backlogged[] = [];
  #receiver: EncapReceiver | undefined;
  #onError: ((err: Error) => void) | undefined;
  /** The last source address seen, as bytes and text (most datagrams come from one peer). */
  readonly #lastSource = new Uint8Array(16);
  #lastSourceText = '';
  /**
   * Destination text → bytes, so that a NAT-keepalive pass over thousands of peers parses each
   * address once, not on every pass; cleared when it reaches {@link MAX_DESTINATIONS}.
   */
  readonly #destinations = new Map<string, Uint8Array>();
  readonly #drainBacklog = (): void => this.#drain();
  readonly #onReadable = (): void => this.#receive();

  private constructor(socket: NativeUdpSocket, rx: EspRxRing, tx: EspTxRing) {
    this.#socket = socket;
    this.#family = socket.family;
    this.port = socket.port;
    this.#rx = rx;
    this.#tx = tx;
  }

  /**
   * Binds the wildcard address of `family`; `undefined` when the receive ring is not offered.
   *
   * @throws {UdpBindError} the bind failed
   */
  static open(
    family: 'IPv4' | 'IPv6',
    port: number,
    tx: EspTxRing,
  ): NativeEncapTransport | undefined {
    const rx = EspRxRing.shared();
    if (rx === undefined) return undefined;
    return new NativeEncapTransport(NativeUdpSocket.bind(family, port), rx, tx);
  }

  /** The descriptor (-1 once closed). */
  get fd(): number {
    return this.#socket.fd;
  }

  get sendQueueLength(): number {
    return this.#backlog.length;
  }

  listen(receiver: EncapReceiver, onError: (err: Error) => void): void {
    this.#receiver = receiver;
    this.#onError = onError;
    this.#socket.onReadable(this.#onReadable);
  }

  send(bytes: Uint8Array, port: number, address: string): Promise<void> {
    if (this.#socket.closed) {
      return Promise.reject(sendError(ECANCELED, address, port));
    }
    let destination: Uint8Array;
    try {
      destination = this.#destination(address);
    } catch (err: unknown) {
      return Promise.reject(err);
    }
    if (this.#backlog.length === 0) {
      const errno = this.#socket.sendTo(bytes, destination, port);
      if (errno === 0) return Promise.resolve();
      if (errno !== EAGAIN) return Promise.reject(sendError(errno, address, port));
    }
    if (this.#backlog.length >= MAX_SEND_BACKLOG) {
      return Promise.reject(sendError(ENOBUFS, address, port));
    }
    return new Promise<void>((resolve, reject) => {
      this.#backlog.push({
        bytes: Uint8Array.from(bytes),
        destination,
        port,
        address,
        resolve,
        reject,
      });
      if (this.#backlog.length === 1) this.#socket.onceWritable(this.#drainBacklog);
    });
  }

  sendUnacknowledged(bytes: Uint8Array, port: number, address: string): boolean {
    if (this.#socket.closed) return false;
    try {
      return this.#socket.sendTo(bytes, this.#destination(address), port) === 0;
    } catch {
      return false;
    }
  }

  ref(): void {
    this.#socket.ref();
  }

  unref(): void {
    this.#socket.unref();
  }

  close(): Promise<void> {
    if (!this.#socket.closed) {
      this.#socket.close();
      this.#receiver = undefined;
      for (const entry of this.#backlog.splice(0)) {
        entry.reject(sendError(ECANCELED, entry.address, entry.port));
      }
    }
    return Promise.resolve();
  }

  #receive(): void {
    const socket = this.#socket;
    const batch = this.#rx.batch;
    const slots = this.#rx.slots;
    const tx = this.#tx;
    tx.hold();
    try {
      for (let round = 0; round < MAX_RX_ROUNDS; round++) {
        const fd = socket.fd;
        if (fd < 0) return;
        const n = batch.receive(fd);
        if (n < 0) {
          this.#onError?.(sendError(-n, '', 0));
          return;
        }
        for (let i = 0; i < n; i++) {
          const receiver = this.#receiver;
          if (receiver === undefined) return;
          const source = batch.source(i);
          if (source === undefined) continue;
          const bytes = (slots[i] as Uint8Array).subarray(0, batch.length(i));
          try {
            receiver(bytes, this.#sourceText(source), source.port);
          } catch (err: unknown) {
            process.nextTick(() => {
              throw err;
            });
          } finally {
            // ESP was opened in place: no plaintext stays in the ring after delivery.
            bytes.fill(0);
          }
        }
        if (n < batch.capacity) return;
      }
    } finally {
      tx.release();
    }
  }

  #drain(): void {
    const backlog = this.#backlog;
    while (backlog.length > 0) {
      const entry = backlog[0] as Backlogged;
      const errno = this.#socket.closed
        ? ECANCELED
        : this.#socket.sendTo(entry.bytes, entry.destination, entry.port);
      if (errno === EAGAIN) {
        this.#socket.onceWritable(this.#drainBacklog);
        return;
      }
      backlog.shift();
      if (errno === 0) entry.resolve();
      else entry.reject(sendError(errno, entry.address, entry.port));
    }
  }

  #sourceText(source: UdpSource): string {
    const bytes = source.address;
    const last = this.#lastSource;
    let same = this.#lastSourceText !== '';
    for (let i = 0; same && i < bytes.length; i++) same = bytes[i] === last[i];
    if (same) return this.#lastSourceText;
    last.set(bytes);
    const text =
      source.family === 'IPv4'
        ? `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`
        : formatInetAddress(bytes, 'IPv6');
    this.#lastSourceText = text;
    return text;
  }

  #destination(address: string): Uint8Array {
    const known = this.#destinations.get(address);
    if (known !== undefined) return known;
    const parsed = parseInetAddress(address);
    if (parsed.family !== this.#family) {
      throw new RangeError(`Cannot send to ${address}: an ${this.#family} encapsulation socket`);
    }
    if (this.#destinations.size >= MAX_DESTINATIONS) this.#destinations.clear();
    this.#destinations.set(address, parsed.bytes);
    return parsed.bytes;
  }
}
