/**
 * `UdpEncapsulationSocket` (RFC 3948): a UDP socket for ESP-in-UDP that also
 * carries IKE. As on Android and Linux, the application sees IKE datagrams exactly as they are on
 * the wire: `send()` sends the bytes it is given (an IKE message starts with the 4-byte non-ESP
 * marker of RFC 3948 §2.2, which the caller writes) and `'message'` delivers every received
 * datagram that starts with the marker, unchanged; ESP and NAT-keepalives on the same port are
 * handled by the backend and never reach the listeners. The `for await` adapter holds at most
 * `receiveQueueLength` datagrams for a slow loop (see `_receive_queue.ts`).
 */
import { TypedEventEmitter } from '../datapath/mod.ts';
import type { ManagerContext } from './_manager_context.ts';
import {
  checkMessagesOptions,
  DEFAULT_RECEIVE_QUEUE_OPTIONS,
  type MessagesOptions,
  type ReceiveQueueOptions,
  receiveQueued,
} from './_receive_queue.ts';
import { checkPort, checkSocketAddress } from './_socket_args.ts';
import type { AddressFamily, BackendEncapSocket, RemoteInfo } from './backend.ts';
import { IllegalStateError } from './errors.ts';
import { INVALID_RESOURCE_ID } from './security_parameter_index.ts';

/** One received IKE datagram. */
export interface IkeMessage {
  readonly message: Buffer;
  readonly rinfo: RemoteInfo;
}

/** Events of a {@link UdpEncapsulationSocket}. */
export interface UdpEncapsulationSocketEvents {
  /** An IKE datagram arrived (non-ESP marker included, as on the wire). */
  readonly message: [message: Buffer, rinfo: RemoteInfo];
  /** The user's handle is closed. */
  readonly close: [];
}

/**
 * A UDP encapsulation socket (Android `IpSecManager.UdpEncapsulationSocket`). Events:
 * {@link UdpEncapsulationSocketEvents} (`'message'` for each IKE datagram, non-ESP marker included).
 *
 * @example
 * ```ts
 * import { once } from 'node:events';
 * import { IpSecManager } from 'tsnetd/ipsec';
 * await using ipsec = await IpSecManager.create();
 * await using encap = await ipsec.openUdpEncapsulationSocket();
 * const received = once(encap, 'message');
 * await encap.send(Buffer.concat([Buffer.alloc(4), Buffer.alloc(28, 1)]), encap.getPort(), '127.0.0.1');
 * const [msg, rinfo] = await received;
 * console.log('IKE from', rinfo.address, msg.length); // IKE from 127.0.0.1 32
 * ```
 */
export class UdpEncapsulationSocket
  extends TypedEventEmitter<UdpEncapsulationSocketEvents>
  implements AsyncDisposable
{
  readonly #context: ManagerContext;
  readonly #socket: BackendEncapSocket;
  readonly #port: number;
  readonly #family: AddressFamily;
  readonly #queueOptions: ReceiveQueueOptions;
  #resourceId: number;

  /** @internal Used by `IpSecManager.openUdpEncapsulationSocket`. */
  static create(
    context: ManagerContext,
    resourceId: number,
    socket: BackendEncapSocket,
    queueOptions: ReceiveQueueOptions = DEFAULT_RECEIVE_QUEUE_OPTIONS,
  ): UdpEncapsulationSocket {
    return new UdpEncapsulationSocket(context, resourceId, socket, queueOptions);
  }

  /** Created by `IpSecManager.openUdpEncapsulationSocket` only. */
  private constructor(
    context: ManagerContext,
    resourceId: number,
    socket: BackendEncapSocket,
    queueOptions: ReceiveQueueOptions,
  ) {
    super();
    this.#context = context;
    this.#queueOptions = queueOptions;
    this.#resourceId = resourceId;
    this.#socket = socket;
    this.#port = socket.port;
    this.#family = socket.family;
    socket.setIkeReceiver((message, rinfo) => this.emit('message', message, rinfo));
  }

  /**
   * The bound local port.
   *
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using encap = await ipsec.openUdpEncapsulationSocket();
   * console.log(encap.getPort() > 0); // true
   * ```
   */
  getPort(): number {
    return this.#port;
  }

  /** Address family (`'IPv4'` unless opened with `{ family: 'IPv6' }`). */
  getFamily(): AddressFamily {
    return this.#family;
  }

  /** The service's resource id, or -1 after `close()`. */
  getResourceId(): number {
    return this.#resourceId;
  }

  /**
   * Sends one datagram from this socket as it is. An IKE message must start with the non-ESP
   * marker (four zero bytes, RFC 3948 §2.2); without it the peer takes the datagram for ESP.
   *
   * @throws {IllegalStateError} when the socket is closed
   * @throws {TypeError} port not an integer
   * @throws {IllegalArgumentError} port outside 1..65535
   * @throws {IllegalArgumentError} address not a numeric literal of the socket's family (no DNS)
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using encap = await ipsec.openUdpEncapsulationSocket();
   * await encap.send(Buffer.concat([Buffer.alloc(4), Buffer.from('IKE_SA_INIT')]), 4500, '127.0.0.1');
   * ```
   */
  async send(message: Uint8Array, port: number, address: string): Promise<void> {
    if (this.#resourceId === INVALID_RESOURCE_ID) {
      throw new IllegalStateError('Cannot send: the UDP encapsulation socket is closed');
    }
    if (!(message instanceof Uint8Array)) {
      throw new TypeError('Cannot send: message must be a Uint8Array');
    }
    checkPort('send', port, 1);
    checkSocketAddress('send', address, this.#family);
    await this.#socket.sendIke(message, port, address);
  }

  /**
   * Iterates over received IKE messages until the socket is closed or the loop breaks. At most
   * `receiveQueueLength` messages (`IpSecManager.create` option, default 1024) wait for the loop;
   * newer ones are dropped and counted as `drop.queue-full`.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using encap = await ipsec.openUdpEncapsulationSocket();
   * const ike = Uint8Array.of(0, 0, 0, 0, 1, 2, 3); // non-ESP marker (RFC 3948 §2.2) ‖ IKE message
   * await encap.send(ike, encap.getPort(), '127.0.0.1');
   * for await (const { message } of encap) {
   *   assert.deepEqual([...message], [...ike]);
   *   break;
   * }
   * ```
   */
  [Symbol.asyncIterator](): AsyncGenerator<IkeMessage, void, undefined> {
    return this.messages();
  }

  /**
   * Like `for await (… of encap)`, ended also by aborting `signal` (the loop throws an
   * `AbortError`, `code: 'ABORT_ERR'`, and its listeners are removed).
   *
   * @throws {TypeError} `signal` is not an `AbortSignal`
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using encap = await ipsec.openUdpEncapsulationSocket();
   * const controller = new AbortController();
   * setTimeout(() => controller.abort(), 20);
   * try {
   *   for await (const { message } of encap.messages({ signal: controller.signal })) console.log(message);
   * } catch (err) {
   *   console.log((err as { code?: string }).code); // ABORT_ERR
   * }
   * ```
   */
  messages(options?: MessagesOptions): AsyncGenerator<IkeMessage, void, undefined> {
    const signal = checkMessagesOptions(options);
    return receiveQueued(
      this,
      this.#queueOptions,
      (closed) => closed || this.#resourceId === INVALID_RESOURCE_ID,
      undefined,
      signal,
    );
  }

  /**
   * Lets the process exit while this socket is open (as `dgram.Socket.unref()`); NAT-keepalive
   * timers never keep it alive.
   *
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using encap = (await ipsec.openUdpEncapsulationSocket()).unref();
   * ```
   */
  unref(): this {
    this.#socket.unref();
    return this;
  }

  /** Undoes {@link UdpEncapsulationSocket.unref}. */
  ref(): this {
    this.#socket.ref();
    return this;
  }

  /**
   * Closes the user's handle (idempotent). The port stays bound while a transform still uses
   * the socket, and is freed when the last one is closed.
   *
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * const encap = await ipsec.openUdpEncapsulationSocket();
   * await encap.close();
   * ```
   */
  async close(): Promise<void> {
    const id = this.#resourceId;
    if (id === INVALID_RESOURCE_ID) return;
    this.#resourceId = INVALID_RESOURCE_ID;
    this.#socket.setIkeReceiver(undefined);
    try {
      // Not in the set any more: the manager's close() already released it.
      if (this.#context.resourceIds.delete(id)) {
        await this.#context.service.closeEncapSocket(this.#context.caller, id);
      }
    } finally {
      this.emit('close');
    }
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Android's `toString()`. */
  override toString(): string {
    return `UdpEncapsulationSocket{port=${this.#port},resourceId=${this.#resourceId}}`;
  }
}
