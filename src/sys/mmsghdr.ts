/**
 * The native layout `sendmmsg`/`recvmmsg` work on, shared by `UdpSendBatch` and `UdpRecvBatch`:
 * per entry an `mmsghdr` (the LP64 `msghdr` followed by `msg_len`), one `iovec` and room for a
 * `sockaddr_in6`, in one zeroed allocation of koffi native memory kept for the life of the
 * batch. Offered on 64-bit little-endian Linux (x86-64, arm64), where this layout holds.
 */
import os from 'node:os';
import { koffiNative } from './libc.ts';

export const MMSGHDR_LENGTH = 64;
export const IOVEC_LENGTH = 16;
export const SOCKADDR_LENGTH = 32;
/** `msghdr` / `mmsghdr` field offsets. */
export const MSG_NAME = 0;
export const MSG_NAMELEN = 8;
export const MSG_IOV = 16;
export const MSG_IOVLEN = 24;
export const MSG_FLAGS = 48;
export const MSG_LEN = 56;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const MSG_DONTWAIT = 0x40;
export const EINTR = 4;
const TWO_32 = 0x1_0000_0000;

/** Whether this platform has the layout above. */
export function mmsgOffered(): boolean {
  return (
    process.platform === 'linux' &&
    (process.arch === 'x64' || process.arch === 'arm64') &&
    os.endianness() === 'LE'
  );
}

/** The native vector of `count` entries: its address and a view; zeroed. */
export interface MmsgVector {
  readonly base: number;
  readonly view: DataView;
  readonly bytes: Uint8Array;
  /** Offset of entry `i`'s `iovec`. */
  iovec(i: number): number;
  /** Offset of entry `i`'s socket address. */
  sockaddr(i: number): number;
}

/**
 * Allocates the vector (koffi native memory, never freed: a batch lives as long as the process).
 *
 * @example
 * ```ts
 * const vector = allocateMmsgVector(64); // 64 mmsghdr ‖ 64 iovec ‖ 64 sockaddr slots
 * ```
 */
export function allocateMmsgVector(count: number): MmsgVector {
  const length = count * (MMSGHDR_LENGTH + IOVEC_LENGTH + SOCKADDR_LENGTH);
  const native = koffiNative();
  const pointer = native.alloc(length);
  const base = Number(native.address(pointer));
  const memory = native.view(pointer, length);
  const bytes = new Uint8Array(memory);
  bytes.fill(0);
  return {
    base,
    view: new DataView(memory),
    bytes,
    iovec: (i) => count * MMSGHDR_LENGTH + i * IOVEC_LENGTH,
    sockaddr: (i) => count * (MMSGHDR_LENGTH + IOVEC_LENGTH) + i * SOCKADDR_LENGTH,
  };
}

/** Writes a 64-bit little-endian word (an address or a `size_t`). */
export function writeWord(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % TWO_32, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_32), true);
}
