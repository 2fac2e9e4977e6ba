/**
 * A NETLINK_XFRM socket through koffi (`NetlinkSocket`): `socket(AF_NETLINK,
 * SOCK_RAW | SOCK_CLOEXEC, NETLINK_XFRM)`, `bind` (the kernel picks the port id), `sendto` the
 * kernel, `recv` into one reusable buffer, request/ACK matching by sequence number, and dumps
 * (`NLM_F_MULTI` … `NLMSG_DONE`).
 *
 * Waiting (chosen deliberately): every `recv` is non-blocking (`MSG_DONTWAIT`). The XFRM handlers
 * answer inside `sendto`, so the reply is normally queued already; when it is not, the socket
 * waits with `poll()` run on a koffi worker thread (asynchronous binding) in slices of at most
 * {@link POLL_SLICE_MS}, until the request's deadline (`timeoutMs`, default
 * {@link DEFAULT_NETLINK_TIMEOUT_MS}) — the event loop is never blocked and a timeout becomes a
 * `NetlinkError` with `ETIMEDOUT`. Requests on one socket run one at a time (queued), so replies
 * never interleave; replies with a stale sequence number (from a timed-out request) are skipped.
 * Extended ACKs are enabled so kernel error texts ("Requested type not found") reach the error.
 */

import { errnoNumber } from '../errno.ts';
import { NetlinkError } from '../errors.ts';
import { libc } from '../libc.ts';
import { SerialQueue } from '../serial_queue.ts';
import {
  decodeNetlinkError,
  decodeNetlinkMessages,
  HOST_LITTLE_ENDIAN,
  type NetlinkMessage,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  withNetlinkHeader,
} from './message.ts';

// --- Linux constants (x86_64/arm64 values) ---
/** `AF_NETLINK`. */
export const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const POLLIN = 0x1;
const EINTR = errnoNumber('EINTR');
const EAGAIN = errnoNumber('EAGAIN');
const EBADF = errnoNumber('EBADF');
const ETIMEDOUT = errnoNumber('ETIMEDOUT');
/** `sizeof(struct sockaddr_nl)`: family (u16), pad (u16), pid (u32), groups (u32). */
const SOCKADDR_NL_LENGTH = 12;
/** `sizeof(struct pollfd)`: fd (int), events (short), revents (short). */
const POLLFD_LENGTH = 8;

// --- implementation limits ---
/** Default deadline of one request or dump. */
export const DEFAULT_NETLINK_TIMEOUT_MS = 2000;
/** Longest single `poll()` wait, so `close()` and aborts are noticed quickly. */
export const POLL_SLICE_MS = 100;
/** Default receive buffer (one datagram; dumps arrive in several). */
export const DEFAULT_RECEIVE_BUFFER_LENGTH = 65536;
/** How often a dump interrupted by a concurrent change (`NLM_F_DUMP_INTR`) is restarted. */
export const MAX_DUMP_ATTEMPTS = 3;

/** Options of {@link NetlinkSocket.open}. */
export interface NetlinkSocketOptions {
  /** Netlink protocol; default `NETLINK_XFRM` (6). */
  readonly protocol?: number;
  /** Deadline of each request/dump; default {@link DEFAULT_NETLINK_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Receive buffer length; default {@link DEFAULT_RECEIVE_BUFFER_LENGTH}. */
  readonly receiveBufferLength?: number;
}

/** Options of one request or dump. */
export interface NetlinkRequestOptions {
  /** Names the attempt in errors ("Cannot <operation>: …"); default "send netlink request". */
  readonly operation?: string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * Extra `nlmsg_flags` of a request, ORed into `NLM_F_REQUEST | NLM_F_ACK` (e.g.
   * `NLM_F_CREATE | NLM_F_EXCL` for rtnetlink objects). Ignored by dumps.
   */
  readonly flags?: number;
}

function kernelAddress(): Uint8Array {
  const address = new Uint8Array(SOCKADDR_NL_LENGTH);
  new DataView(address.buffer).setUint16(0, AF_NETLINK, HOST_LITTLE_ENDIAN);
  return address; // pid 0 = the kernel, groups 0
}

/**
 * A NETLINK_XFRM socket.
 *
 * @example
 * ```ts
 * using nl = NetlinkSocket.open();
 * const [reply] = await nl.request(encodeAllocSpiRequest({ destination: '192.0.2.1', min: 256, max: 0xfffffffe }),
 *   { operation: 'allocate SPI' });
 * const sa = decodeSaMessage(reply!);
 * ```
 */
export class NetlinkSocket {
  #fd: number;
  #seq: number;
  readonly #buffer: Uint8Array;
  readonly #pollFds = new Uint8Array(POLLFD_LENGTH);
  readonly #timeoutMs: number;
  readonly #queue = new SerialQueue();
  #closed = false;
  #busy = 0;

  private constructor(fd: number, options: NetlinkSocketOptions) {
    this.#fd = fd;
    this.#seq = Math.floor(Math.random() * 0x7fffffff) + 1;
    this.#buffer = new Uint8Array(options.receiveBufferLength ?? DEFAULT_RECEIVE_BUFFER_LENGTH);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_NETLINK_TIMEOUT_MS;
  }

  /**
   * Opens and binds a netlink socket (synchronous: no system call here blocks).
   *
   * @throws {NetlinkError} when `socket` or `bind` fails (`EPROTONOSUPPORT`: no `xfrm_user`).
   * @throws {FfiUnavailableError} when libc cannot be loaded.
   */
  static open(options: NetlinkSocketOptions = {}): NetlinkSocket {
    const c = libc();
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, options.protocol ?? 6);
    if (fd < 0) throw new NetlinkError('open netlink socket', c.errno());
    const address = kernelAddress();
    if (c.bind(fd, address, SOCKADDR_NL_LENGTH) < 0) {
      const errno = c.errno();
      c.close(fd);
      throw new NetlinkError('bind netlink socket', errno);
    }
    const one = new Uint8Array(4);
    new DataView(one.buffer).setInt32(0, 1, HOST_LITTLE_ENDIAN);
    // Best effort: old kernels lack these; errors then carry only the errno.
    c.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
    c.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
    return new NetlinkSocket(fd, options);
  }

  /** The file descriptor (-1 once closed). */
  get fd(): number {
    return this.#closed ? -1 : this.#fd;
  }

  /**
   * Sends `message` with `NLM_F_REQUEST | NLM_F_ACK` and a fresh sequence number, and collects
   * the kernel's replies up to its ACK. Returns the replies (empty for a bare ACK); payloads are
   * copies, owned by the caller.
   *
   * @throws {NetlinkError} with the kernel's errno (and extended-ack text) when it refuses, or
   *   `ETIMEDOUT` / `EBADF` (closed).
   * @throws {MalformedNetlinkMessageError} on an unparsable reply.
   */
  request(message: Uint8Array, options: NetlinkRequestOptions = {}): Promise<NetlinkMessage[]> {
    const flags = NLM_F_REQUEST | NLM_F_ACK | ((options.flags ?? 0) & 0xffff);
    return this.#enqueue(() => this.#exchange(message, flags, false, options));
  }

  /**
   * Sends `message` with `NLM_F_REQUEST | NLM_F_DUMP` and collects every `NLM_F_MULTI` reply up
   * to `NLMSG_DONE`. A dump interrupted by a concurrent change is restarted (at most
   * {@link MAX_DUMP_ATTEMPTS} times).
   *
   * @throws {NetlinkError} see {@link NetlinkSocket.request}; `EINTR` when every attempt was interrupted.
   */
  dump(message: Uint8Array, options: NetlinkRequestOptions = {}): Promise<NetlinkMessage[]> {
    return this.#enqueue(async () => {
      for (let attempt = 1; ; attempt++) {
        const replies = await this.#exchange(message, NLM_F_REQUEST | NLM_F_DUMP, true, options);
        if (!replies.some((m) => (m.flags & NLM_F_DUMP_INTR) !== 0)) return replies;
        if (attempt >= MAX_DUMP_ATTEMPTS) {
          throw new NetlinkError(options.operation ?? 'dump netlink objects', EINTR);
        }
      }
    });
  }

  /** Closes the socket (idempotent). A request in flight fails with `EBADF` within one poll slice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#busy === 0) libc().close(this.#fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    return this.#queue.run(task);
  }

  /** Resolves once every request submitted so far has settled. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  async #exchange(
    message: Uint8Array,
    flags: number,
    isDump: boolean,
    options: NetlinkRequestOptions,
  ): Promise<NetlinkMessage[]> {
    const operation =
      options.operation ?? (isDump ? 'dump netlink objects' : 'send netlink request');
    if (this.#closed) throw new NetlinkError(operation, EBADF);
    this.#busy++;
    try {
      const c = libc();
      this.#seq = this.#seq >= 0xffffffff ? 1 : this.#seq + 1;
      const seq = this.#seq;
      const stamped = withNetlinkHeader(message, { seq, flags });
      const address = kernelAddress();
      const sent = c.sendto(this.#fd, stamped, stamped.length, 0, address, SOCKADDR_NL_LENGTH);
      const sendErrno = sent < 0 ? c.errno() : 0;
      // The copy may carry keys (UPDSA): it is not needed once sent. NETLINK_CAP_ACK keeps the
      // kernel from echoing the request back in its answer.
      stamped.fill(0);
      if (sent < 0) throw new NetlinkError(operation, sendErrno);
      const deadline = Date.now() + (options.timeoutMs ?? this.#timeoutMs);
      const replies: NetlinkMessage[] = [];
      for (;;) {
        const datagram = await this.#receive(deadline, operation, options.signal);
        for (const m of decodeNetlinkMessages(datagram)) {
          if (m.seq !== seq || m.type === NLMSG_NOOP) continue;
          if (m.type === NLMSG_ERROR) {
            const error = decodeNetlinkError(m);
            if (error.errno !== 0) {
              const kernelMessage = error.kernelMessage;
              throw new NetlinkError(
                operation,
                error.errno,
                kernelMessage === undefined ? {} : { kernelMessage },
              );
            }
            if (!isDump) return replies;
            continue;
          }
          if (m.type === NLMSG_DONE) {
            // A dump's DONE carries an int: 0, or the negative errno that ended it.
            const status =
              m.payload.length >= 4
                ? new DataView(m.payload.buffer, m.payload.byteOffset).getInt32(
                    0,
                    HOST_LITTLE_ENDIAN,
                  )
                : 0;
            if (status < 0) throw new NetlinkError(operation, -status);
            if (isDump) return replies;
            continue;
          }
          if (m.type === NLMSG_OVERRUN) throw new NetlinkError(operation, EAGAIN);
          replies.push(m);
        }
      }
    } finally {
      this.#busy--;
      if (this.#closed && this.#busy === 0) libc().close(this.#fd);
    }
  }

  /** Receives one datagram (a copy), waiting with async poll() until `deadline`. */
  async #receive(
    deadline: number,
    operation: string,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array> {
    const c = libc();
    for (;;) {
      if (this.#closed) throw new NetlinkError(operation, EBADF);
      signal?.throwIfAborted();
      const n = c.recv(this.#fd, this.#buffer, this.#buffer.length, MSG_DONTWAIT | MSG_TRUNC);
      if (n >= 0) {
        if (n > this.#buffer.length) {
          throw new NetlinkError(
            `${operation} (reply of ${n} bytes exceeds the receive buffer)`,
            errnoNumber('EMSGSIZE'),
          );
        }
        return this.#buffer.slice(0, n);
      }
      const errno = c.errno();
      if (errno === EINTR) continue;
      if (errno !== EAGAIN) throw new NetlinkError(operation, errno);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new NetlinkError(operation, ETIMEDOUT);
      const pfd = new DataView(this.#pollFds.buffer);
      pfd.setInt32(0, this.#fd, HOST_LITTLE_ENDIAN);
      pfd.setInt16(4, POLLIN, HOST_LITTLE_ENDIAN);
      pfd.setInt16(6, 0, HOST_LITTLE_ENDIAN);
      await c.pollAsync(this.#pollFds, 1, Math.min(remaining, POLL_SLICE_MS));
    }
  }
}
