/**
 * Many UDP datagrams in one system call: `recvmmsg(2)` into native memory the caller owns (one
 * slot per datagram, e.g. a receive ring the ESP layer decrypts in place), with each datagram's
 * length, source address and truncation flag.
 *
 * The batch's own native memory holds, per entry, an `mmsghdr` (LP64 `msghdr` ‖ `msg_len`), one
 * `iovec` pointing at the caller's slot and room for a `sockaddr_in6`. A receive never blocks
 * (`MSG_DONTWAIT`): "nothing queued" is 0 datagrams. Same platforms as `UdpSendBatch`.
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
  MSG_FLAGS,
  MSG_IOV,
  MSG_IOVLEN,
  MSG_LEN,
  MSG_NAME,
  MSG_NAMELEN,
  mmsgOffered,
  SOCKADDR_LENGTH,
  writeWord,
} from './mmsghdr.ts';

const MSG_TRUNC = 0x20;
const EAGAIN = 11;

type RecvMmsg = (
  fd: number,
  msgvec: number,
  vlen: number,
  flags: number,
  timeout: number,
) => unknown;
let recvmmsgCall: RecvMmsg | undefined;

/** The source of a received datagram. */
export interface UdpSource {
  readonly family: 'IPv4' | 'IPv6';
  /** A view of the 4 or 16 address bytes (valid until the next receive). */
  readonly address: Uint8Array;
  readonly port: number;
}

/**
 * A reusable `recvmmsg` batch over the caller's slots.
 *
 * @example
 * ```ts
 * // Built by the userspace data path's encapsulation socket; see datapath/native_encap_io.ts.
 * ```
 */
export class UdpRecvBatch {
  readonly capacity: number;
  readonly #vector: MmsgVector;
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  readonly #slotLength: number;
  #length = 0;

  private constructor(slots: readonly number[], slotLength: number, vector: MmsgVector) {
    this.capacity = slots.length;
    this.#slotLength = slotLength;
    this.#vector = vector;
    this.#view = vector.view;
    this.#bytes = vector.bytes;
    const v = this.#view;
    for (let i = 0; i < slots.length; i++) {
      const header = i * MMSGHDR_LENGTH;
      const iovec = vector.iovec(i);
      writeWord(v, header + MSG_NAME, vector.base + vector.sockaddr(i));
      writeWord(v, header + MSG_IOV, vector.base + iovec);
      writeWord(v, header + MSG_IOVLEN, 1);
      writeWord(v, iovec, slots[i] as number);
      writeWord(v, iovec + 8, slotLength);
      v.setUint32(header + MSG_NAMELEN, SOCKADDR_LENGTH, true);
    }
  }

  /**
   * A batch receiving into `slots` (native addresses of `slotLength` bytes each), or `undefined`
   * where `recvmmsg` is not offered (not 64-bit little-endian Linux, or koffi/libc cannot load).
   */
  static create(slots: readonly number[], slotLength: number): UdpRecvBatch | undefined {
    if (slots.length < 1 || slots.length > 1024) {
      throw new RangeError(`Cannot create a receive batch of ${slots.length} slots`);
    }
    if (!Number.isInteger(slotLength) || slotLength < 1 || slotLength > 0x10000) {
      throw new RangeError(`Cannot create a receive batch of ${String(slotLength)}-byte slots`);
    }
    for (const slot of slots) {
      if (!Number.isSafeInteger(slot) || slot <= 0) {
        throw new RangeError('Cannot create a receive batch: bad slot address');
      }
    }
    if (!mmsgOffered()) return undefined;
    try {
      recvmmsgCall ??= libcFunction(
        'int recvmmsg(int fd, intptr_t msgvec, unsigned int vlen, int flags, intptr_t timeout)',
      ) as RecvMmsg;
      return new UdpRecvBatch(slots, slotLength, allocateMmsgVector(slots.length));
    } catch {
      return undefined;
    }
  }

  /**
   * Receives up to {@link UdpRecvBatch.capacity} datagrams from `fd` without blocking (retried on
   * `EINTR`).
   *
   * @returns how many arrived (0 when none was queued), or `-errno`
   */
  receive(fd: number): number {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError('Cannot receive: bad descriptor');
    const v = this.#view;
    // The kernel overwrote the name lengths of the entries it filled last time.
    for (let i = 0; i < this.#length; i++) {
      v.setUint32(i * MMSGHDR_LENGTH + MSG_NAMELEN, SOCKADDR_LENGTH, true);
    }
    this.#length = 0;
    const call = recvmmsgCall as RecvMmsg;
    for (;;) {
      const n = Number(call(fd, this.#vector.base, this.capacity, MSG_DONTWAIT, 0));
      if (n >= 0) {
        this.#length = n;
        return n;
      }
      const errno = libc().errno();
      if (errno === EAGAIN) return 0;
      if (errno !== EINTR) return -errno;
    }
  }

  /** Bytes datagram `i` of the last receive put in its slot (at most the slot length). */
  length(i: number): number {
    this.#check(i);
    return Math.min(this.#view.getUint32(i * MMSGHDR_LENGTH + MSG_LEN, true), this.#slotLength);
  }

  /** Whether datagram `i` was longer than its slot (the rest was discarded by the kernel). */
  truncated(i: number): boolean {
    this.#check(i);
    return (this.#view.getInt32(i * MMSGHDR_LENGTH + MSG_FLAGS, true) & MSG_TRUNC) !== 0;
  }

  /** The source of datagram `i`, or `undefined` for an address family other than IPv4/IPv6. */
  source(i: number): UdpSource | undefined {
    this.#check(i);
    const sockaddr = this.#vector.sockaddr(i);
    const v = this.#view;
    const port = v.getUint16(sockaddr + 2, false);
    switch (v.getUint16(sockaddr, true)) {
      case AF_INET:
        return { family: 'IPv4', address: this.#bytes.subarray(sockaddr + 4, sockaddr + 8), port };
      case AF_INET6:
        return {
          family: 'IPv6',
          address: this.#bytes.subarray(sockaddr + 8, sockaddr + 24),
          port,
        };
      default:
        return undefined;
    }
  }

  #check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.#length) {
      throw new RangeError(`No datagram ${String(i)} in the last receive`);
    }
  }
}
