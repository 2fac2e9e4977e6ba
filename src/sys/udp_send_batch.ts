/**
 * Many UDP datagrams in one system call: `sendmmsg(2)` on a bound socket's descriptor. The bytes of
 * each datagram are already in native memory (the caller gives their address and length), so a
 * batch costs one foreign call and one kernel entry, instead of one `dgram.send` each (a request
 * object, a libuv request and a `sendmsg` per datagram).
 *
 * The batch's own native memory holds, per entry, an `mmsghdr` (an LP64 `msghdr` ‖ `msg_len`), one
 * `iovec` and a `sockaddr_in`/`sockaddr_in6` (room for the larger). Their addresses are fixed at
 * construction; an entry only writes lengths, the data address and the destination. Sends never
 * block (`MSG_DONTWAIT`): a full socket buffer is reported as `EAGAIN` and the caller decides.
 *
 * Offered on 64-bit little-endian Linux (x86-64, arm64) when koffi loads; {@link
 * UdpSendBatch.create} returns `undefined` elsewhere, and callers keep `dgram.send`.
 */
import { libc, libcFunction } from './libc.ts';
import {
  AF_INET,
  AF_INET6,
  allocateMmsgVector,
  EINTR,
  MMSGHDR_LENGTH,
  type MmsgVector,
  MSG_DONTWAIT,
  MSG_IOV,
  MSG_IOVLEN,
  MSG_NAME,
  MSG_NAMELEN,
  mmsgOffered,
  writeWord,
} from './mmsghdr.ts';

const SOCKADDR_IN_LENGTH = 16;
const SOCKADDR_IN6_LENGTH = 28;
/** Most entries one batch may have (the kernel's `UIO_MAXIOV` bounds one call). */
export const MAX_UDP_SEND_BATCH = 1024;

type SendMmsg = (fd: number, msgvec: number, vlen: number, flags: number) => unknown;
let sendmmsgCall: SendMmsg | undefined;

/**
 * A reusable batch of datagrams for one `sendmmsg` call per run of entries on one descriptor.
 *
 * @example
 * ```ts
 * // Built by the userspace data path's transmit ring; see datapath/esp_tx_ring.ts.
 * ```
 */
export class UdpSendBatch {
  readonly capacity: number;
  readonly #vector: MmsgVector;
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  #length = 0;

  private constructor(capacity: number, vector: MmsgVector) {
    this.capacity = capacity;
    this.#vector = vector;
    this.#view = vector.view;
    this.#bytes = vector.bytes;
    for (let i = 0; i < capacity; i++) {
      const header = i * MMSGHDR_LENGTH;
      writeWord(this.#view, header + MSG_NAME, vector.base + vector.sockaddr(i));
      writeWord(this.#view, header + MSG_IOV, vector.base + vector.iovec(i));
      writeWord(this.#view, header + MSG_IOVLEN, 1);
    }
  }

  /**
   * A batch of `capacity` entries, or `undefined` where `sendmmsg` is not offered (not 64-bit
   * little-endian Linux, or koffi/libc cannot load).
   */
  static create(capacity: number): UdpSendBatch | undefined {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_UDP_SEND_BATCH) {
      throw new RangeError(`Cannot create a send batch of ${String(capacity)} entries`);
    }
    if (!mmsgOffered()) return undefined;
    try {
      sendmmsgCall ??= libcFunction(
        'int sendmmsg(int fd, intptr_t msgvec, unsigned int vlen, int flags)',
      ) as SendMmsg;
      return new UdpSendBatch(capacity, allocateMmsgVector(capacity));
    } catch {
      return undefined;
    }
  }

  /** Entries added since the last {@link UdpSendBatch.clear}. */
  get length(): number {
    return this.#length;
  }

  /**
   * Adds one datagram: `dataLength` bytes at native `dataAddress`, to (`destination`, `port`).
   *
   * @param destination 4 (IPv4) or 16 (IPv6) address bytes
   * @throws {RangeError} the batch is full, or a length, port or address is out of range
   */
  add(dataAddress: number, dataLength: number, destination: Uint8Array, port: number): void {
    const i = this.#length;
    if (i >= this.capacity) throw new RangeError('Cannot add a datagram: the batch is full');
    if (!Number.isSafeInteger(dataAddress) || dataAddress <= 0) {
      throw new RangeError('Cannot add a datagram: bad data address');
    }
    if (!Number.isInteger(dataLength) || dataLength < 0 || dataLength > 0xffff) {
      throw new RangeError(`Cannot add a datagram of ${String(dataLength)} bytes`);
    }
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
      throw new RangeError(`Cannot add a datagram to port ${String(port)}`);
    }
    const v = this.#view;
    const sockaddr = this.#vector.sockaddr(i);
    let namelen: number;
    if (destination.length === 4) {
      v.setUint16(sockaddr, AF_INET, true);
      this.#bytes.set(destination, sockaddr + 4);
      this.#bytes.fill(0, sockaddr + 8, sockaddr + SOCKADDR_IN_LENGTH);
      namelen = SOCKADDR_IN_LENGTH;
    } else if (destination.length === 16) {
      v.setUint16(sockaddr, AF_INET6, true);
      v.setUint32(sockaddr + 4, 0, true);
      this.#bytes.set(destination, sockaddr + 8);
      v.setUint32(sockaddr + 24, 0, true);
      namelen = SOCKADDR_IN6_LENGTH;
    } else {
      throw new RangeError('Cannot add a datagram: the destination must be 4 or 16 bytes');
    }
    v.setUint16(sockaddr + 2, port, false);
    const header = i * MMSGHDR_LENGTH;
    v.setUint32(header + MSG_NAMELEN, namelen, true);
    const iovec = this.#vector.iovec(i);
    writeWord(v, iovec, dataAddress);
    writeWord(v, iovec + 8, dataLength);
    this.#length = i + 1;
  }

  /**
   * Sends entries `[start, start + count)` from descriptor `fd` in one `sendmmsg` call (retried on
   * `EINTR`), without blocking.
   *
   * @returns how many were sent (the first `n` of the range), or `-errno` when the first failed
   */
  send(fd: number, start: number, count: number): number {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError('Cannot send: bad descriptor');
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(count) ||
      start < 0 ||
      count < 1 ||
      start + count > this.#length
    ) {
      throw new RangeError(`Cannot send entries ${String(start)}+${String(count)}`);
    }
    const call = sendmmsgCall as SendMmsg;
    const msgvec = this.#vector.base + start * MMSGHDR_LENGTH;
    for (;;) {
      const n = Number(call(fd, msgvec, count, MSG_DONTWAIT));
      if (n >= 0) return n;
      const errno = libc().errno();
      if (errno !== EINTR) return -errno;
    }
  }

  /** Forgets every entry (the native memory is reused). */
  clear(): void {
    this.#length = 0;
  }
}
