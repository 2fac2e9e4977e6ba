/**
 * How an encapsulation socket reaches the kernel: a small interface with two implementations.
 * - {@link DgramEncapTransport} (this file): a `dgram` socket, one `send` and one `'message'`
 *   callback per datagram. Used with the node:crypto provider, off Linux, or without koffi.
 * - `NativeEncapTransport` (`native_encap_transport.ts`): a socket owned through libc, read with
 *   `recvmmsg` into a native receive ring where ESP is opened in place, written through the
 *   transmit ring with `sendmmsg`.
 * Both deliver every datagram to one receiver, with the same remote information, and both
 * settle a send's promise when the kernel took (or refused) the datagram.
 */
import type { RemoteInfo as DgramRemoteInfo, Socket } from 'node:dgram';
import { bindWildcardUdpSocket } from '../sys/mod.ts';

/** Called for every datagram received. `bytes` may be a view valid only during the call. */
export type EncapReceiver = (bytes: Uint8Array, address: string, port: number) => void;

/** The kernel side of an encapsulation socket. */
export interface EncapTransport {
  /** The bound port. */
  readonly port: number;
  /** The descriptor when the transmit ring may send on it, else -1. */
  readonly fd: number;
  /**
   * Datagrams accepted by {@link EncapTransport.send} and still waiting for room in the kernel's
   * send buffer. While > 0, a newer datagram must queue behind them, never go straight to the
   * kernel (it would overtake them).
   */
  readonly sendQueueLength: number;
  /** Starts delivering datagrams to `receiver` (called once, right after opening). */
  listen(receiver: EncapReceiver, onError: (err: Error) => void): void;
  /** Sends one datagram; settles when the kernel took it (or rejects with an errno error). */
  send(bytes: Uint8Array, port: number, address: string): Promise<void>;
  /** Sends one datagram without a completion; `false` when it failed at once. */
  sendUnacknowledged(bytes: Uint8Array, port: number, address: string): boolean;
  ref(): void;
  unref(): void;
  close(): Promise<void>;
}

/** The error of a send refused because the socket is closing, shaped like `dgram`'s. */
function canceled(address: string, port: number): Error {
  return Object.assign(new Error(`send ECANCELED ${address}:${port}`), {
    errno: -125,
    code: 'ECANCELED',
    syscall: 'send',
    address,
    port,
  });
}

/**
 * The `dgram` implementation.
 *
 * @example
 * ```ts
 * import { DgramEncapTransport } from './encap_transport.ts';
 * const transport = await DgramEncapTransport.open('IPv4', 0);
 * console.log(transport.port > 0); // true
 * await transport.close();
 * ```
 */
export class DgramEncapTransport implements EncapTransport {
  readonly port: number;
  readonly fd = -1;
  readonly #udp: Socket;
  #closing = false;
  #closePromise: Promise<void> | undefined;

  private constructor(udp: Socket) {
    this.#udp = udp;
    this.port = udp.address().port;
  }

  /** Binds the wildcard address of `family` (rejects with the sys layer's `UdpBindError`). */
  static async open(family: 'IPv4' | 'IPv6', port: number): Promise<DgramEncapTransport> {
    return new DgramEncapTransport(await bindWildcardUdpSocket(family, port));
  }

  listen(receiver: EncapReceiver, onError: (err: Error) => void): void {
    this.#udp.on('message', (msg: Buffer, rinfo: DgramRemoteInfo) =>
      receiver(msg, rinfo.address, rinfo.port),
    );
    this.#udp.on('error', onError);
  }

  send(bytes: Uint8Array, port: number, address: string): Promise<void> {
    if (this.#closing) return Promise.reject(canceled(address, port));
    return new Promise<void>((resolve, reject) => {
      this.#udp.send(bytes, port, address, (err) => (err ? reject(err) : resolve()));
    });
  }

  sendUnacknowledged(bytes: Uint8Array, port: number, address: string): boolean {
    if (this.#closing) return false;
    try {
      this.#udp.send(bytes, port, address);
      return true;
    } catch {
      return false;
    }
  }

  ref(): void {
    this.#udp.ref();
  }

  unref(): void {
    this.#udp.unref();
  }

  get sendQueueLength(): number {
    return this.#udp.getSendQueueCount();
  }

  /**
   * Closes the socket. `dgram` resolves a send's address on the next tick and drops the send,
   * without calling back, when the socket closed meanwhile; so the handle is closed one tick
   * later, once every send already accepted has reached libuv (which then completes or cancels
   * it, calling back either way). Sends asked for after this call are refused (`ECANCELED`).
   */
  close(): Promise<void> {
    this.#closePromise ??= new Promise<void>((resolve) => {
      this.#closing = true;
      process.nextTick(() => this.#udp.close(() => resolve()));
    });
    return this.#closePromise;
  }
}
