/**
 * Unix stream sockets that carry file descriptors (`SCM_RIGHTS`), driven from Node's event loop:
 * `sendmsg`/`recvmsg` through koffi on native memory (the `msghdr`, its `iovec` and the control
 * buffer point into one allocation), readiness through libuv (`koffi.node.poll`, which never reads
 * itself, so no descriptor is lost to a plain `read`), and what the privileged side needs to judge
 * a descriptor it received: the socket's domain, type and protocol (`SO_DOMAIN`, `SO_TYPE`,
 * `SO_PROTOCOL`) and its owner, the UID the socket inode was created with (`statx`).
 *
 * Received descriptors are close-on-exec (`MSG_CMSG_CLOEXEC`); more descriptors than the receiver
 * allows are closed by the kernel (`MSG_CTRUNC`). x86-64 and other LP64 Linux layouts.
 */
import { SysError } from './errors.ts';
import { koffiNative, libc, libcFunction } from './libc.ts';
import { HOST_LITTLE_ENDIAN } from './netlink/message.ts';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const SO_TYPE = 3;
const SO_PROTOCOL = 38;
const SO_DOMAIN = 39;
const MSG_CTRUNC = 0x8;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const EAGAIN = 11;
const EINTR = 4;
const F_DUPFD_CLOEXEC = 1030;
const AT_EMPTY_PATH = 0x1000;
const STATX_UID = 0x8;
const STATX_INO = 0x100;
/** `sockaddr_un.sun_path` capacity. */
export const UNIX_PATH_MAX = 108;
/** Most descriptors one message may carry here. */
export const MAX_DESCRIPTORS_PER_MESSAGE = 4;

const MSGHDR_LENGTH = 56;
const IOVEC_LENGTH = 16;
const CMSG_HEADER_LENGTH = 16;

/** A descriptor-passing call failed; `errno` is positive. */
export class DescriptorPassingError extends SysError {
  readonly errno: number;
  constructor(operation: string, errno: number) {
    super(`Cannot ${operation} (errno ${errno})`, 'ERR_SYS_DESCRIPTOR_PASSING');
    this.name = 'DescriptorPassingError';
    this.errno = errno;
  }
}

interface Calls {
  sendmsg: (...args: unknown[]) => unknown;
  recvmsg: (...args: unknown[]) => unknown;
  connect: (...args: unknown[]) => unknown;
  fcntl: (...args: unknown[]) => unknown;
  statx: (...args: unknown[]) => unknown;
  socketpair: (...args: unknown[]) => unknown;
}
let calls: Calls | undefined;
function bound(): Calls {
  calls ??= {
    sendmsg: libcFunction('intptr_t sendmsg(int fd, void *msg, int flags)'),
    recvmsg: libcFunction('intptr_t recvmsg(int fd, void *msg, int flags)'),
    connect: libcFunction('int connect(int fd, const void *addr, uint32_t len)'),
    fcntl: libcFunction('int fcntl(int fd, int cmd, int arg)'),
    statx: libcFunction(
      'int statx(int dirfd, const char *path, int flags, unsigned int mask, void *buf)',
    ),
    socketpair: libcFunction('int socketpair(int domain, int type, int protocol, void *fds)'),
  };
  return calls;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** One native buffer laid out as msghdr ‖ iovec ‖ control ‖ data. */
class NativeMessage {
  readonly pointer: unknown;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly base: bigint;
  readonly controlOffset = MSGHDR_LENGTH + IOVEC_LENGTH;
  readonly controlLength: number;
  readonly dataOffset: number;
  constructor(dataLength: number, descriptors: number) {
    this.controlLength = descriptors === 0 ? 0 : CMSG_HEADER_LENGTH + align8(descriptors * 4);
    this.dataOffset = this.controlOffset + this.controlLength;
    const koffi = koffiNative();
    const total = this.dataOffset + Math.max(dataLength, 1);
    this.pointer = koffi.alloc(total);
    this.base = koffi.address(this.pointer);
    const buffer = koffi.view(this.pointer, total);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    this.bytes.fill(0);
    const v = this.view;
    const le = HOST_LITTLE_ENDIAN;
    v.setBigUint64(16, this.base + BigInt(MSGHDR_LENGTH), le); // msg_iov
    v.setBigUint64(24, 1n, le); // msg_iovlen
    if (this.controlLength > 0) {
      v.setBigUint64(32, this.base + BigInt(this.controlOffset), le); // msg_control
      v.setBigUint64(40, BigInt(this.controlLength), le); // msg_controllen
    }
    v.setBigUint64(MSGHDR_LENGTH, this.base + BigInt(this.dataOffset), le); // iov_base
    v.setBigUint64(MSGHDR_LENGTH + 8, BigInt(dataLength), le); // iov_len
  }
  /** Zeroes (the data may hold keys) and frees. */
  free(): void {
    this.bytes.fill(0);
    koffiNative().free(this.pointer);
  }
}

/**
 * Sends `data` with `descriptors` attached (`SCM_RIGHTS`), without blocking and without SIGPIPE.
 *
 * @returns the bytes sent (the descriptors travel with the first byte), or -1 when the socket's
 *   buffer is full (`EAGAIN`)
 * @throws {DescriptorPassingError} on any other error (`EPIPE` when the peer is gone)
 */
export function sendWithDescriptors(
  fd: number,
  data: Uint8Array,
  descriptors: readonly number[] = [],
): number {
  if (descriptors.length > MAX_DESCRIPTORS_PER_MESSAGE) {
    throw new RangeError(`Cannot send more than ${MAX_DESCRIPTORS_PER_MESSAGE} descriptors`);
  }
  const m = new NativeMessage(data.length, descriptors.length);
  try {
    m.bytes.set(data, m.dataOffset);
    if (descriptors.length > 0) {
      const le = HOST_LITTLE_ENDIAN;
      const c = m.controlOffset;
      m.view.setBigUint64(c, BigInt(CMSG_HEADER_LENGTH + descriptors.length * 4), le);
      m.view.setInt32(c + 8, SOL_SOCKET, le);
      m.view.setInt32(c + 12, SCM_RIGHTS, le);
      descriptors.forEach((d, i) => {
        m.view.setInt32(c + CMSG_HEADER_LENGTH + i * 4, d, le);
      });
    }
    for (;;) {
      const n = Number(bound().sendmsg(fd, m.pointer, MSG_DONTWAIT | MSG_NOSIGNAL));
      if (n >= 0) return n;
      const errno = libc().errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) return -1;
      throw new DescriptorPassingError('send on the Unix socket', errno);
    }
  } finally {
    m.free();
  }
}

/** What {@link receiveWithDescriptors} read. */
export interface ReceivedMessage {
  readonly data: Uint8Array;
  /** Descriptors that arrived with the data (close-on-exec; the receiver must close them). */
  readonly descriptors: readonly number[];
  /** The sender attached more descriptors than allowed (the kernel closed the rest). */
  readonly truncated: boolean;
}

/**
 * Reads what is waiting (at most `maxBytes`) without blocking, with the descriptors attached to
 * it (at most `maxDescriptors`; the kernel closes the rest).
 *
 * @returns the message, `'again'` when nothing is waiting, `'eof'` when the peer closed
 * @throws {DescriptorPassingError} on a socket error (`ECONNRESET`, …)
 */
export function receiveWithDescriptors(
  fd: number,
  maxBytes: number,
  maxDescriptors: number = MAX_DESCRIPTORS_PER_MESSAGE,
): ReceivedMessage | 'again' | 'eof' {
  const m = new NativeMessage(maxBytes, Math.max(1, maxDescriptors));
  try {
    let n: number;
    for (;;) {
      n = Number(bound().recvmsg(fd, m.pointer, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
      if (n >= 0) break;
      const errno = libc().errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) return 'again';
      throw new DescriptorPassingError('receive on the Unix socket', errno);
    }
    const le = HOST_LITTLE_ENDIAN;
    const flags = m.view.getInt32(48, le);
    const controlLength = Number(m.view.getBigUint64(40, le));
    const descriptors: number[] = [];
    let offset = m.controlOffset;
    const end = m.controlOffset + Math.min(controlLength, m.controlLength);
    while (offset + CMSG_HEADER_LENGTH <= end) {
      const length = Number(m.view.getBigUint64(offset, le));
      if (length < CMSG_HEADER_LENGTH || offset + length > end) break;
      const level = m.view.getInt32(offset + 8, le);
      const type = m.view.getInt32(offset + 12, le);
      if (level === SOL_SOCKET && type === SCM_RIGHTS) {
        for (let p = offset + CMSG_HEADER_LENGTH; p + 4 <= offset + length; p += 4) {
          descriptors.push(m.view.getInt32(p, le));
        }
      }
      offset += align8(length);
    }
    // The control buffer is 8-byte aligned, so it may hold one more than asked: close extras.
    const extra = descriptors.splice(Math.max(0, maxDescriptors));
    for (const d of extra) libc().close(d);
    if (n === 0 && descriptors.length === 0 && extra.length === 0) return 'eof';
    const data = m.bytes.slice(m.dataOffset, m.dataOffset + n);
    return { data, descriptors, truncated: (flags & MSG_CTRUNC) !== 0 || extra.length > 0 };
  } finally {
    m.free();
  }
}

/**
 * Creates a non-blocking, close-on-exec Unix stream socket connected to `path`.
 *
 * @throws {DescriptorPassingError} `ENOENT` (no socket file), `ECONNREFUSED` (nobody listens),
 *   `EACCES` (no permission), `EAGAIN` (the listener's backlog is full)
 */
export function connectUnixStream(path: string): number {
  const encoded = new TextEncoder().encode(path);
  if (encoded.length === 0 || encoded.length >= UNIX_PATH_MAX) {
    throw new DescriptorPassingError(`connect to "${path}": path length`, 36 /* ENAMETOOLONG */);
  }
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new DescriptorPassingError('create a Unix socket', c.errno());
  const address = new Uint8Array(2 + UNIX_PATH_MAX);
  new DataView(address.buffer).setUint16(0, AF_UNIX, HOST_LITTLE_ENDIAN);
  address.set(encoded, 2);
  if (Number(bound().connect(fd, address, 2 + encoded.length + 1)) < 0) {
    const errno = c.errno();
    c.close(fd);
    throw new DescriptorPassingError(`connect to "${path}"`, errno);
  }
  return fd;
}

/** A connected pair of non-blocking, close-on-exec Unix stream sockets (tests, local peers). */
export function unixStreamPair(): [number, number] {
  const fds = new Int32Array(2);
  if (Number(bound().socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds)) < 0) {
    throw new DescriptorPassingError('create a Unix socket pair', libc().errno());
  }
  return [fds[0] ?? -1, fds[1] ?? -1];
}

/** A close-on-exec duplicate of `fd` (numbered ≥ 3). */
export function duplicateDescriptor(fd: number): number {
  const copy = Number(bound().fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (copy < 0) throw new DescriptorPassingError(`duplicate descriptor ${fd}`, libc().errno());
  return copy;
}

/** Closes a descriptor this process owns; errors are ignored (it is gone either way). */
export function closeDescriptor(fd: number): void {
  libc().close(fd);
}

/** What a received socket descriptor is, as the kernel says. */
export interface SocketDescription {
  /** `AF_INET` 2, `AF_INET6` 10, `AF_UNIX` 1, … */
  readonly domain: number;
  /** `SOCK_STREAM` 1, `SOCK_DGRAM` 2, … */
  readonly type: number;
  /** `IPPROTO_TCP` 6, `IPPROTO_UDP` 17, … */
  readonly protocol: number;
  /** UID the socket inode belongs to: the effective (fs) UID of the process that created it. */
  readonly ownerUid: number;
  /** Inode number of the socket (stable while it is open). */
  readonly inode: bigint;
}

function intOption(fd: number, name: number): number | undefined {
  const c = libc();
  const value = new Uint8Array(4);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, 4, HOST_LITTLE_ENDIAN);
  if (c.getsockopt(fd, SOL_SOCKET, name, value, length) < 0) return undefined;
  return new DataView(value.buffer).getInt32(0, HOST_LITTLE_ENDIAN);
}

/**
 * Domain, type, protocol and owner of a socket descriptor; `undefined` when `fd` is not a socket.
 *
 * @throws {DescriptorPassingError} when `statx` fails on the descriptor
 */
export function describeSocket(fd: number): SocketDescription | undefined {
  const domain = intOption(fd, SO_DOMAIN);
  const type = intOption(fd, SO_TYPE);
  const protocol = intOption(fd, SO_PROTOCOL);
  if (domain === undefined || type === undefined || protocol === undefined) return undefined;
  // struct statx: stx_uid at 20, stx_ino at 32 (the same on every architecture).
  const buffer = new Uint8Array(256);
  if (Number(bound().statx(fd, '', AT_EMPTY_PATH, STATX_UID | STATX_INO, buffer)) < 0) {
    throw new DescriptorPassingError(`statx descriptor ${fd}`, libc().errno());
  }
  const view = new DataView(buffer.buffer);
  return {
    domain,
    type,
    protocol,
    ownerUid: view.getUint32(20, HOST_LITTLE_ENDIAN),
    inode: view.getBigUint64(32, HOST_LITTLE_ENDIAN),
  };
}

/** A libuv readiness watch on a descriptor (it never reads or writes itself). */
export interface DescriptorWatch {
  /** Stops watching (idempotent); the descriptor stays open. */
  close(): void;
  /** Lets the process exit while watching. */
  unref(): void;
}

/**
 * Calls `onReadable` whenever `fd` is readable (or hung up / in error: the next receive tells).
 *
 * @example
 * ```ts
 * const watch = watchReadable(fd, () => drain(fd));
 * watch.close();
 * ```
 */
export function watchReadable(fd: number, onReadable: () => void): DescriptorWatch {
  const handle = koffiNative().pollReadable(fd, onReadable);
  let closed = false;
  return {
    close: () => {
      if (closed) return;
      closed = true;
      handle.close();
    },
    unref: () => handle.unref(),
  };
}
