/**
 * Errors of the system-call layer: every class has a `name` equal to the class name and a stable
 * `code` `ERR_SYS_<CONDITION>`.
 *
 * - {@link NetlinkError}: the kernel answered a netlink request with an `NLMSG_ERROR`, or a socket
 *   call failed; carries the positive `errno` and its symbolic name (`ENOENT`, `EPERM`, …).
 * - {@link MalformedNetlinkMessageError}: bytes that are not a valid netlink message.
 * - {@link FfiUnavailableError}: the C library could not be loaded through koffi.
 * - {@link SocketFdUnavailableError}: a Node socket has no file descriptor to work on.
 * - {@link UdpBindError}: a UDP socket could not be bound (busy port, no permission).
 */
import { errnoDescription, errnoName } from './errno.ts';

export { errnoDescription, errnoName };

/**
 * Base class of every error thrown by `src/sys`.
 *
 * @example
 * ```ts
 * import { SysError } from './errors.ts';
 * try { doSomething(); } catch (err) { if (err instanceof SysError) console.log(err.code); }
 * ```
 */
export class SysError extends Error {
  /** Stable machine-readable code, `ERR_SYS_<CONDITION>`. */
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SysError';
    this.code = code;
  }
}

/** Options of {@link NetlinkError}. */
export interface NetlinkErrorOptions extends ErrorOptions {
  /** The kernel's extended-ack message (`NLMSGERR_ATTR_MSG`), when it sent one. */
  readonly kernelMessage?: string;
}

/**
 * The kernel refused a netlink request (an `NLMSG_ERROR` with a negative error), or a socket
 * system call failed. `errno` is positive (`ENOENT` = 2), `errnoName` its symbolic name.
 *
 * @example
 * ```ts
 * import { NetlinkError } from './errors.ts';
 * const err = new NetlinkError('allocate SPI 0x00d1201d', 2);
 * err.message; // 'Cannot allocate SPI 0x00d1201d: no such file or directory (ENOENT)'
 * err.code; // 'ERR_SYS_NETLINK'
 * ```
 */
export class NetlinkError extends SysError {
  /** Positive errno value. */
  readonly errno: number;
  /** Symbolic errno name, e.g. `'ESRCH'`. */
  readonly errnoName: string;
  /** What was attempted, e.g. `'delete SA'`. */
  readonly operation: string;
  /** The kernel's extended-ack text, if any (e.g. `'Requested type not found'`). */
  readonly kernelMessage: string | undefined;
  constructor(operation: string, errno: number, options?: NetlinkErrorOptions) {
    const name = errnoName(errno);
    const detail =
      options?.kernelMessage === undefined ? '' : `; kernel says "${options.kernelMessage}"`;
    super(
      `Cannot ${operation}: ${errnoDescription(errno)} (${name})${detail}`,
      'ERR_SYS_NETLINK',
      options,
    );
    this.name = 'NetlinkError';
    this.errno = errno;
    this.errnoName = name;
    this.operation = operation;
    this.kernelMessage = options?.kernelMessage;
  }
}

/**
 * Bytes that do not form a valid netlink message (truncated header, attribute running past
 * its message, wrong payload size).
 *
 * @example
 * ```ts
 * import { decodeNetlinkMessages } from './netlink/message.ts';
 * decodeNetlinkMessages(new Uint8Array(3)); // throws MalformedNetlinkMessageError
 * ```
 */
export class MalformedNetlinkMessageError extends SysError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_SYS_MALFORMED_MESSAGE', options);
    this.name = 'MalformedNetlinkMessageError';
  }
}

/**
 * The C library could not be loaded through koffi (not Linux, or koffi has no build for this
 * platform).
 *
 * @example
 * ```ts
 * import { FfiUnavailableError } from './errors.ts';
 * new FfiUnavailableError('Cannot load libc: not Linux').code; // 'ERR_SYS_FFI_UNAVAILABLE'
 * ```
 */
export class FfiUnavailableError extends SysError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_SYS_FFI_UNAVAILABLE', options);
    this.name = 'FfiUnavailableError';
  }
}

/**
 * A Node socket has no usable file descriptor (not bound/connected yet, already closed, or the
 * running Node version hides the handle).
 *
 * @example
 * ```ts
 * import dgram from 'node:dgram';
 * import { socketFd } from './socket_fd.ts';
 * socketFd(dgram.createSocket('udp4')); // throws SocketFdUnavailableError (not bound yet)
 * ```
 */
export class SocketFdUnavailableError extends SysError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_SYS_SOCKET_FD_UNAVAILABLE', options);
    this.name = 'SocketFdUnavailableError';
  }
}

/**
 * A UDP socket could not be bound: the port is in use (`EADDRINUSE`), privileged (`EACCES`), or
 * the address is not available. `errnoName` says which, when the system said.
 *
 * @example
 * ```ts
 * import { UdpBindError } from './errors.ts';
 * new UdpBindError(4500, 'EADDRINUSE').reason; // 'the port is already in use'
 * ```
 */
export class UdpBindError extends SysError {
  /** The port that was asked for (0 = any). */
  readonly port: number;
  /** Symbolic errno, e.g. `'EADDRINUSE'`; `undefined` when the failure carried none. */
  readonly errnoName: string | undefined;
  /** Why, in words (`'the port is already in use'`). */
  readonly reason: string;
  constructor(port: number, errnoName: string | undefined, options?: ErrorOptions) {
    const cause = options?.cause;
    const reason =
      errnoName === 'EADDRINUSE'
        ? 'the port is already in use'
        : (errnoName ?? (cause instanceof Error ? cause.message : String(cause)));
    super(`Cannot bind UDP port ${port}: ${reason}`, 'ERR_SYS_UDP_BIND', options);
    this.name = 'UdpBindError';
    this.port = port;
    this.errnoName = errnoName;
    this.reason = reason;
  }
}
