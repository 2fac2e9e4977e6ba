/**
 * `IpSecDatagramSocket`: a protected UDP socket that behaves like `dgram.Socket` (bind, send,
 * `'message'` events with rinfo, close, address(), async iteration). Without a transform it sends
 * and receives clear text through a real UDP socket; with transforms applied by
 * `IpSecManager.applyTransportModeTransform` its traffic is ESP.
 *
 * Android applies a transform synchronously; here apply and remove are asynchronous, so the
 * socket keeps a list of pending transform changes, marked synchronously when the manager's call
 * starts. Send order: argument checks → if an outbound apply or a remove is pending (or earlier
 * sends still wait for one), wait until those pending at the time of the call settle, in call
 * order → a failed outbound apply fails the send with the apply's error (never clear text) →
 * the backend sends (protected or clear text as the transforms now decide). While an inbound
 * apply is pending the backend drops clear text. The `for await` adapter holds at most
 * `receiveQueueLength` datagrams (see `_receive_queue.ts`).
 */
import { TypedEventEmitter } from '../datapath/mod.ts';
import {
  checkMessagesOptions,
  DEFAULT_RECEIVE_QUEUE_OPTIONS,
  type MessagesOptions,
  type ReceiveQueueOptions,
  receiveQueued,
} from './_receive_queue.ts';
import { checkPort, checkSocketAddress } from './_socket_args.ts';
import type { BackendDatagramSocket, RemoteInfo, SocketAddressInfo } from './backend.ts';
import { TransformClosedError } from './errors.ts';

/** One received datagram. */
export interface DatagramMessage {
  readonly message: Buffer;
  readonly rinfo: RemoteInfo;
}

const BACKEND_SOCKETS = new WeakMap<IpSecDatagramSocket, BackendDatagramSocket>();

/** @internal What a transform change does to the socket: apply inbound, apply outbound, remove both. */
export type TransformChangeKind = 'in' | 'out' | 'remove';

type ChangeTracker = (kind: TransformChangeKind, change: () => Promise<void>) => Promise<void>;
const CHANGE_TRACKERS = new WeakMap<IpSecDatagramSocket, ChangeTracker>();

/** A pending apply or remove; `outcome` never rejects. */
interface PendingChange {
  readonly kind: TransformChangeKind;
  readonly outcome: Promise<{ readonly failed: false } | { readonly failed: true; error: unknown }>;
}

/** @internal The backend socket behind a public socket (for the manager). */
export function backendSocketOf(socket: unknown): BackendDatagramSocket | undefined {
  return socket instanceof IpSecDatagramSocket ? BACKEND_SOCKETS.get(socket) : undefined;
}

/**
 * @internal For the manager: marks `socket` synchronously as having a pending transform change
 * of `kind`, runs `change` (the service call), and clears the mark when it settles. Sends issued
 * meanwhile wait for it; clear text received meanwhile is dropped when `kind` is `'in'`.
 */
export function trackTransformChange(
  socket: IpSecDatagramSocket,
  kind: TransformChangeKind,
  change: () => Promise<void>,
): Promise<void> {
  const tracker = CHANGE_TRACKERS.get(socket);
  return tracker === undefined ? change() : tracker(kind, change);
}

/** Events of an {@link IpSecDatagramSocket} (as `dgram.Socket`'s). */
export interface IpSecDatagramSocketEvents {
  /** A datagram arrived: clear text, or opened from ESP when an inbound transform is applied. */
  readonly message: [msg: Buffer, rinfo: RemoteInfo];
  /** The socket is closed. */
  readonly close: [];
  /** A socket error (emitted only while someone listens for it). */
  readonly error: [err: Error];
}

/**
 * A datagram socket IPsec transforms can be applied to. Create it with
 * `IpSecManager.createDatagramSocket('udp4' | 'udp6')`. Events: {@link IpSecDatagramSocketEvents}.
 *
 * @example
 * ```ts
 * import { once } from 'node:events';
 * import { IpSecManager } from 'tsnetd/ipsec';
 * await using ipsec = await IpSecManager.create();
 * await using socket = ipsec.createDatagramSocket('udp4');
 * const { port } = await socket.bind(0, '127.0.0.1');
 * const received = once(socket, 'message');
 * await socket.send(new TextEncoder().encode('hello'), port, '127.0.0.1');
 * const [msg, rinfo] = await received;
 * console.log(String(msg), rinfo.port === port); // hello true
 * ```
 */
export class IpSecDatagramSocket
  extends TypedEventEmitter<IpSecDatagramSocketEvents>
  implements AsyncDisposable
{
  readonly #socket: BackendDatagramSocket;
  readonly #queueOptions: ReceiveQueueOptions;
  /** Applies and removes called and not settled yet. */
  readonly #changes = new Set<PendingChange>();
  /** Pending inbound applies (clear text is dropped while > 0). */
  #inboundApplies = 0;
  /** Sends waiting for pending changes; later sends queue behind them (call order kept). */
  /** The last destination that passed `checkSocketAddress` (the family never changes). */
  #lastSendAddress: string | undefined;
  #waitingSends = 0;
  #lastWaitingSend: Promise<void> | undefined;

  /** @internal Used by `IpSecManager.createDatagramSocket`. */
  static create(
    socket: BackendDatagramSocket,
    queueOptions: ReceiveQueueOptions = DEFAULT_RECEIVE_QUEUE_OPTIONS,
  ): IpSecDatagramSocket {
    return new IpSecDatagramSocket(socket, queueOptions);
  }

  /** Created by `IpSecManager.createDatagramSocket` only. */
  private constructor(socket: BackendDatagramSocket, queueOptions: ReceiveQueueOptions) {
    super();
    this.#socket = socket;
    this.#queueOptions = queueOptions;
    BACKEND_SOCKETS.set(this, socket);
    CHANGE_TRACKERS.set(this, (kind, change) => this.#trackChange(kind, change));
    socket.on('message', (msg, rinfo) => this.emit('message', msg, rinfo));
    socket.on('close', () => this.emit('close'));
    socket.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  /** `'udp4'` or `'udp6'`. */
  get type(): 'udp4' | 'udp6' {
    return this.#socket.type;
  }

  /**
   * Binds the socket (port 0 or omitted = random; address omitted = all addresses).
   *
   * @throws {TypeError} port not an integer
   * @throws {IllegalArgumentError} port outside 0..65535
   * @throws {IllegalArgumentError} address not a numeric literal of the socket's family (no DNS)
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using socket = ipsec.createDatagramSocket('udp6');
   * console.log((await socket.bind(0, '::1')).family); // IPv6
   * ```
   */
  bind(port = 0, address?: string): Promise<SocketAddressInfo> {
    try {
      checkPort('bind', port, 0);
      if (address !== undefined) checkSocketAddress('bind', address, this.#family());
    } catch (err: unknown) {
      return Promise.reject(err);
    }
    return this.#socket.bind(port, address);
  }

  #family(): 'IPv4' | 'IPv6' {
    return this.#socket.type === 'udp4' ? 'IPv4' : 'IPv6';
  }

  /**
   * Sends one datagram. With an outbound transform applied it is sealed as ESP and must go to
   * the transform's destination; binds to a random port first when unbound.
   *
   * @throws {TypeError} port not an integer
   * @throws {IllegalArgumentError} port outside 1..65535
   * @throws {IllegalArgumentError} address not a numeric literal of the socket's family (no DNS)
   * @throws {DestinationMismatchError} the address is not the outbound transform's destination
   * @throws {TransformClosedError} an applied transform was closed and not removed
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using socket = ipsec.createDatagramSocket('udp4');
   * await socket.send(new TextEncoder().encode('ping'), 9, '127.0.0.1');
   * ```
   */
  send(message: Uint8Array | string, port: number, address: string): Promise<void> {
    const bytes = typeof message === 'string' ? new TextEncoder().encode(message) : message;
    if (!(bytes instanceof Uint8Array)) {
      return Promise.reject(new TypeError('Cannot send: message must be a Uint8Array or string'));
    }
    try {
      checkPort('send', port, 1);
      // A socket usually sends to one peer: the last address that passed is not parsed again.
      if (typeof address !== 'string' || address !== this.#lastSendAddress) {
        checkSocketAddress('send', address, this.#family());
        this.#lastSendAddress = address;
      }
    } catch (err: unknown) {
      return Promise.reject(err);
    }
    if (this.#waitingSends === 0 && !this.#outboundChangePending()) {
      return this.#socket.send(bytes, port, address);
    }
    return this.#sendAfterChanges(bytes, port, address);
  }

  #outboundChangePending(): boolean {
    for (const change of this.#changes) if (change.kind !== 'in') return true;
    return false;
  }

  /** A send issued while an outbound apply or a remove is pending: see the file header. */
  async #sendAfterChanges(bytes: Uint8Array, port: number, address: string): Promise<void> {
    const pending = [...this.#changes].filter((c) => c.kind !== 'in');
    const previous = this.#lastWaitingSend;
    let release = (): void => undefined;
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#lastWaitingSend = turn;
    this.#waitingSends++;
    let failure: { error: unknown } | undefined;
    try {
      if (previous !== undefined) await previous;
      for (const change of pending) {
        const outcome = await change.outcome;
        if (outcome.failed && change.kind === 'out' && failure === undefined) {
          failure = { error: outcome.error };
        }
      }
    } finally {
      this.#waitingSends--;
      if (this.#lastWaitingSend === turn) this.#lastWaitingSend = undefined;
      release();
    }
    // Handed to the backend before the next waiting send resumes: call order is kept.
    if (failure !== undefined) throw failure.error;
    return this.#socket.send(bytes, port, address);
  }

  #trackChange(kind: TransformChangeKind, change: () => Promise<void>): Promise<void> {
    if (kind === 'in' && this.#inboundApplies++ === 0) this.#socket.setInboundPending?.(true);
    let running: Promise<void>;
    try {
      running = change();
    } catch (err: unknown) {
      running = Promise.reject(err);
    }
    const entry: PendingChange = {
      kind,
      outcome: running.then(
        () => ({ failed: false }) as const,
        (error: unknown) => ({ failed: true, error }) as const,
      ),
    };
    this.#changes.add(entry);
    void entry.outcome.then(() => {
      this.#changes.delete(entry);
      if (kind === 'in' && --this.#inboundApplies === 0) this.#socket.setInboundPending?.(false);
    });
    return running;
  }

  /** The bound address; throws when unbound (like `dgram`). */
  address(): SocketAddressInfo {
    return this.#socket.address();
  }

  /**
   * Iterates over received datagrams until the socket closes, the loop breaks or `signal` is
   * aborted (then the loop throws an `AbortError`, `code: 'ABORT_ERR'`, and its listeners are
   * removed). Throws {@link TransformClosedError} when receiving fails because an applied inbound
   * transform was closed and not removed. At most `receiveQueueLength` datagrams
   * (`IpSecManager.create` option, default 1024) wait for the loop; newer ones are dropped and
   * counted as `drop.queue-full`, like a full socket receive buffer.
   *
   * @throws {TypeError} `signal` is not an `AbortSignal`
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using socket = ipsec.createDatagramSocket('udp4');
   * await socket.bind(0, '127.0.0.1');
   * try {
   *   for await (const { message } of socket.messages({ signal: AbortSignal.timeout(50) })) {
   *     console.log(String(message));
   *   }
   * } catch (err) {
   *   console.log((err as Error).name); // AbortError (nothing arrived within 50 ms)
   * }
   * ```
   */
  messages(options?: MessagesOptions): AsyncGenerator<DatagramMessage, void, undefined> {
    const signal = checkMessagesOptions(options);
    let refused = false;
    return receiveQueued(
      this,
      this.#queueOptions,
      (closed) => {
        if (refused || this.#socket.inboundBlocked) {
          throw new TransformClosedError('Cannot receive: the applied inbound transform is closed');
        }
        return closed;
      },
      (wake) => {
        const onRefused = (): void => {
          refused = true;
          wake();
        };
        this.#socket.on('refused', onRefused);
        return () => this.#socket.off('refused', onRefused);
      },
      signal,
    );
  }

  /**
   * `for await (const { message, rinfo } of socket)`: {@link IpSecDatagramSocket.messages}
   * without a signal.
   *
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using socket = ipsec.createDatagramSocket('udp4');
   * const { port } = await socket.bind(0, '127.0.0.1');
   * await socket.send('x', port, '127.0.0.1');
   * for await (const { message } of socket) { console.log(String(message)); break; }
   * ```
   */
  [Symbol.asyncIterator](): AsyncGenerator<DatagramMessage, void, undefined> {
    return this.messages();
  }

  /**
   * Lets the process exit while this socket is open (as `dgram.Socket.unref()`).
   *
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * const ipsec = await IpSecManager.create();
   * const socket = ipsec.createDatagramSocket('udp4').unref();
   * await socket.bind(0, '127.0.0.1'); // does not keep the process alive
   * await ipsec.close();
   * ```
   */
  unref(): this {
    this.#socket.unref();
    return this;
  }

  /** Undoes {@link IpSecDatagramSocket.unref}: the open socket keeps the process alive again. */
  ref(): this {
    this.#socket.ref();
    return this;
  }

  /** Closes the socket (idempotent). Applied transforms are not closed. */
  close(): Promise<void> {
    return this.#socket.close();
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
