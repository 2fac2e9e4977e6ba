/**
 * `IpSecDatagramSocket`: a protected UDP socket that behaves like `dgram.Socket` (bind, send,
 * `'message'` events with rinfo, close, address(), async iteration). Without a transform it sends
 * and receives clear text through a real UDP socket; with transforms applied by
 * `IpSecManager.applyTransportModeTransform` its traffic is ESP (aosp-ipsec §5).
 */
import { EventEmitter } from 'node:events';
import { checkPort, checkSocketAddress } from './_socket_args.ts';
import type { BackendDatagramSocket, RemoteInfo, SocketAddressInfo } from './backend.ts';
import { TransformClosedError } from './errors.ts';

/** One received datagram. */
export interface DatagramMessage {
  readonly message: Buffer;
  readonly rinfo: RemoteInfo;
}

const BACKEND_SOCKETS = new WeakMap<IpSecDatagramSocket, BackendDatagramSocket>();

/** @internal The backend socket behind a public socket (for the manager). */
export function backendSocketOf(socket: unknown): BackendDatagramSocket | undefined {
  return socket instanceof IpSecDatagramSocket ? BACKEND_SOCKETS.get(socket) : undefined;
}

/**
 * A datagram socket IPsec transforms can be applied to. Create it with
 * `IpSecManager.createDatagramSocket('udp4' | 'udp6')`. Events: `'message'`
 * `(msg: Buffer, rinfo: RemoteInfo)`, `'close'`, `'error'`.
 *
 * @example
 * ```ts
 * import { IpSecManager } from 'tsnetd/ipsec';
 * await using ipsec = await IpSecManager.create();
 * await using socket = ipsec.createDatagramSocket('udp4');
 * socket.on('message', (msg, rinfo) => console.log(String(msg), rinfo.port));
 * const { port } = await socket.bind(0, '127.0.0.1');
 * await socket.send(new TextEncoder().encode('hello'), port, '127.0.0.1');
 * ```
 */
export class IpSecDatagramSocket extends EventEmitter implements AsyncDisposable {
  readonly #socket: BackendDatagramSocket;

  /** @internal Created by `IpSecManager.createDatagramSocket`. */
  constructor(socket: BackendDatagramSocket) {
    super();
    this.#socket = socket;
    BACKEND_SOCKETS.set(this, socket);
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.emit('message', msg, rinfo));
    socket.on('close', () => this.emit('close'));
    socket.on('error', (err: unknown) => {
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
   * @throws {TypeError} / {RangeError} port not an integer in 0..65535
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
   * @throws {TypeError} / {RangeError} port not an integer in 1..65535
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
      checkSocketAddress('send', address, this.#family());
    } catch (err: unknown) {
      return Promise.reject(err);
    }
    return this.#socket.send(bytes, port, address);
  }

  /** The bound address; throws when unbound (like `dgram`). */
  address(): SocketAddressInfo {
    return this.#socket.address();
  }

  /**
   * Iterates over received datagrams until the socket closes or the loop breaks. Throws
   * {@link TransformClosedError} when receiving fails because an applied inbound transform was
   * closed and not removed.
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
  async *[Symbol.asyncIterator](): AsyncGenerator<DatagramMessage, void, undefined> {
    const queue: DatagramMessage[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    let refused = false;
    const onMessage = (message: Buffer, rinfo: RemoteInfo): void => {
      queue.push({ message, rinfo });
      wake?.();
    };
    const onClose = (): void => {
      closed = true;
      wake?.();
    };
    const onRefused = (): void => {
      refused = true;
      wake?.();
    };
    this.on('message', onMessage);
    this.on('close', onClose);
    this.#socket.on('refused', onRefused);
    try {
      while (true) {
        const next = queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (refused || this.#socket.inboundBlocked) {
          throw new TransformClosedError('Cannot receive: the applied inbound transform is closed');
        }
        if (closed) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      this.off('message', onMessage);
      this.off('close', onClose);
      this.#socket.off('refused', onRefused);
    }
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
