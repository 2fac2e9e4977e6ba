/**
 * A UDP socket owned through libc instead of `dgram`: created non-blocking and close-on-exec,
 * bound to the wildcard address of its family (`IPV6_V6ONLY` for IPv6, like `dgram`'s
 * `ipv6Only`), with readiness from libuv through a koffi poll handle. The socket's owner reads it
 * with `recvmmsg` and writes it with `sendmmsg`/`sendto` on {@link NativeUdpSocket.fd}; nothing
 * else (no `dgram` handle) ever watches the descriptor, so libuv sees exactly one watcher for it.
 *
 * Lifetime: {@link NativeUdpSocket.close} stops and closes the poll handle, then the descriptor;
 * afterwards {@link NativeUdpSocket.fd} is -1 and every call is refused, so a descriptor number
 * the kernel hands out again is never used by mistake.
 */
import { errnoName } from './errno.ts';
import { UdpBindError } from './errors.ts';
import { koffiNative, libc, libcFunction, type PollHandle } from './libc.ts';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const MSG_DONTWAIT = 0x40;
const EINTR = 4;

type GetSockName = (fd: number, address: Uint8Array, length: Uint8Array) => unknown;
let getsocknameCall: GetSockName | undefined;

/**
 * Sockets still open. An unreferenced socket may still be open when the process exits; its poll
 * handle is closed in the `'exit'` event, because libuv's last run at teardown would otherwise
 * call into JavaScript from koffi when a datagram arrives, which Node refuses with a fatal error.
 */
const openSockets = new Set<NativeUdpSocket>();
let exitHookInstalled = false;
function closeAtExit(): void {
  for (const socket of [...openSockets]) socket.close();
}

/**
 * A bound UDP socket on a raw descriptor.
 *
 * @example
 * ```ts
 * import { NativeUdpSocket } from './native_udp_socket.ts';
 * const socket = NativeUdpSocket.bind('IPv4', 0);
 * socket.onReadable(() => undefined);
 * socket.close();
 * ```
 */
export class NativeUdpSocket {
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
  #fd: number;
  #poll: PollHandle | undefined;
  #readable: (() => void) | undefined;
  #writable: (() => void) | undefined;
  #referenced = true;
  readonly #sockaddr = new Uint8Array(28);
  readonly #sockaddrView = new DataView(this.#sockaddr.buffer);

  private constructor(fd: number, family: 'IPv4' | 'IPv6', port: number) {
    this.#fd = fd;
    this.family = family;
    this.port = port;
    openSockets.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', closeAtExit);
    }
  }

  /**
   * Creates a socket bound to the wildcard address of `family` on `port` (0 = any).
   *
   * @throws {UdpBindError} the bind failed (`errnoName` `'EADDRINUSE'` for a busy port)
   * @throws {FfiUnavailableError} koffi or libc cannot load
   */
  static bind(family: 'IPv4' | 'IPv6', port: number): NativeUdpSocket {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
      throw new RangeError(`Cannot bind UDP port ${String(port)}: expected 0..65535`);
    }
    const c = libc();
    const domain = family === 'IPv6' ? AF_INET6 : AF_INET;
    const fd = c.socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new UdpBindError(port, errnoName(c.errno()));
    try {
      if (family === 'IPv6') {
        const one = new Uint8Array(4);
        new DataView(one.buffer).setInt32(0, 1, true);
        if (c.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, one, 4) !== 0) {
          throw new UdpBindError(port, errnoName(c.errno()));
        }
      }
      const address = new Uint8Array(family === 'IPv6' ? 28 : 16);
      const view = new DataView(address.buffer);
      view.setUint16(0, domain, true);
      view.setUint16(2, port, false);
      if (c.bind(fd, address, address.length) !== 0) {
        throw new UdpBindError(port, errnoName(c.errno()));
      }
      getsocknameCall ??= libcFunction(
        'int getsockname(int fd, void *addr, void *len)',
      ) as GetSockName;
      const length = new Uint8Array(4);
      new DataView(length.buffer).setUint32(0, address.length, true);
      if (Number(getsocknameCall(fd, address, length)) !== 0) {
        throw new UdpBindError(port, errnoName(c.errno()));
      }
      return new NativeUdpSocket(fd, family, view.getUint16(2, false));
    } catch (err: unknown) {
      c.close(fd);
      throw err;
    }
  }

  /** The descriptor, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** Whether the socket is closed. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Calls `callback` whenever the socket is readable (level-triggered), until close. */
  onReadable(callback: () => void): void {
    this.#readable = callback;
    this.#restartPoll();
  }

  /**
   * Calls `callback` once, when the socket can take a datagram again (after an `EAGAIN`).
   * A second call before then replaces the callback.
   */
  onceWritable(callback: () => void): void {
    this.#writable = callback;
    this.#restartPoll();
  }

  /**
   * Sends one datagram now, without blocking.
   *
   * @param destination 4 or 16 address bytes of the socket's family
   * @returns 0 when the kernel took it, else the (positive) errno, e.g. 11 (`EAGAIN`)
   */
  sendTo(bytes: Uint8Array, destination: Uint8Array, port: number): number {
    const fd = this.#fd;
    if (fd < 0) throw new Error('Cannot send: the socket is closed');
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
      throw new RangeError(`Cannot send to port ${String(port)}`);
    }
    const s = this.#sockaddr;
    const v = this.#sockaddrView;
    let length: number;
    if (destination.length === 4) {
      v.setUint16(0, AF_INET, true);
      s.set(destination, 4);
      s.fill(0, 8, 16);
      length = 16;
    } else if (destination.length === 16) {
      v.setUint16(0, AF_INET6, true);
      v.setUint32(4, 0, true);
      s.set(destination, 8);
      v.setUint32(24, 0, true);
      length = 28;
    } else {
      throw new RangeError('Cannot send: the destination must be 4 or 16 bytes');
    }
    v.setUint16(2, port, false);
    const c = libc();
    for (;;) {
      if (c.sendto(fd, bytes, bytes.length, MSG_DONTWAIT, s, length) >= 0) return 0;
      const errno = c.errno();
      if (errno !== EINTR) return errno;
    }
  }

  /** The socket keeps the process alive (the default). */
  ref(): void {
    this.#referenced = true;
    this.#poll?.ref();
  }

  /** The socket does not keep the process alive. */
  unref(): void {
    this.#referenced = false;
    this.#poll?.unref();
  }

  /** Stops watching and closes the descriptor. Idempotent. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    openSockets.delete(this);
    this.#readable = undefined;
    this.#writable = undefined;
    const poll = this.#poll;
    this.#poll = undefined;
    if (poll !== undefined) {
      poll.stop();
      poll.close();
    }
    libc().close(fd);
  }

  #restartPoll(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    const events = {
      readable: this.#readable !== undefined,
      writable: this.#writable !== undefined,
    };
    const callback = (ready: { readable?: boolean; writable?: boolean }): void =>
      this.#onReady(ready);
    if (this.#poll === undefined) {
      this.#poll = koffiNative().poll(fd, events, callback);
      if (!this.#referenced) this.#poll.unref();
    } else {
      this.#poll.start(events, callback);
    }
  }

  #onReady(ready: { readable?: boolean; writable?: boolean }): void {
    if (ready.writable === true && this.#writable !== undefined) {
      const writable = this.#writable;
      this.#writable = undefined;
      this.#restartPoll();
      writable();
    }
    if (ready.readable === true && this.#fd >= 0) this.#readable?.();
  }
}
