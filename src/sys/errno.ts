/**
 * Linux errno values, one table for the whole project: symbolic names, numbers and the glibc/bionic
 * `strerror` texts (netd prints those in its `400 … failed (<strerror>)` replies), and
 * {@link errnoOf}, which reads the errno name off any failure the project meets — a `NetlinkError`
 * or socket-option error (a positive `errno` number), or a Node system error (`code: 'EADDRINUSE'`).
 * Callers compare names (`errnoOf(err) === 'ENOENT'`), never bare numbers.
 */
import { getSystemErrorMap } from 'node:util';

/** The errno values the project handles by name, with their Linux numbers and strerror texts. */
export const ERRNO_TABLE = {
  EPERM: { errno: 1, text: 'Operation not permitted' },
  ENOENT: { errno: 2, text: 'No such file or directory' },
  ESRCH: { errno: 3, text: 'No such process' },
  EINTR: { errno: 4, text: 'Interrupted system call' },
  EIO: { errno: 5, text: 'Input/output error' },
  EBADF: { errno: 9, text: 'Bad file descriptor' },
  EAGAIN: { errno: 11, text: 'Resource temporarily unavailable' },
  ENOMEM: { errno: 12, text: 'Cannot allocate memory' },
  EACCES: { errno: 13, text: 'Permission denied' },
  ENOTSOCK: { errno: 88, text: 'Socket operation on non-socket' },
  EFAULT: { errno: 14, text: 'Bad address' },
  EBUSY: { errno: 16, text: 'Device or resource busy' },
  EEXIST: { errno: 17, text: 'File exists' },
  ENODEV: { errno: 19, text: 'No such device' },
  EINVAL: { errno: 22, text: 'Invalid argument' },
  ENOSPC: { errno: 28, text: 'No space left on device' },
  ERANGE: { errno: 34, text: 'Numerical result out of range' },
  ENAMETOOLONG: { errno: 36, text: 'File name too long' },
  ENOSYS: { errno: 38, text: 'Function not implemented' },
  ENONET: { errno: 64, text: 'Machine is not on the network' },
  EMSGSIZE: { errno: 90, text: 'Message too long' },
  EPROTONOSUPPORT: { errno: 93, text: 'Protocol not supported' },
  EOPNOTSUPP: { errno: 95, text: 'Operation not supported' },
  EAFNOSUPPORT: { errno: 97, text: 'Address family not supported by protocol' },
  EADDRINUSE: { errno: 98, text: 'Address already in use' },
  EADDRNOTAVAIL: { errno: 99, text: 'Cannot assign requested address' },
  ENETDOWN: { errno: 100, text: 'Network is down' },
  ENETUNREACH: { errno: 101, text: 'Network is unreachable' },
  ECONNRESET: { errno: 104, text: 'Connection reset by peer' },
  ENOBUFS: { errno: 105, text: 'No buffer space available' },
  ETIMEDOUT: { errno: 110, text: 'Connection timed out' },
  ECONNREFUSED: { errno: 111, text: 'Connection refused' },
  EHOSTUNREACH: { errno: 113, text: 'No route to host' },
  EREMOTEIO: { errno: 121, text: 'Remote I/O error' },
} as const;

/** An errno name known to {@link ERRNO_TABLE}. */
export type Errno = keyof typeof ERRNO_TABLE;

/**
 * The Linux number of an errno name.
 *
 * @example
 * ```ts
 * errnoNumber('ESRCH'); // 3
 * ```
 */
export function errnoNumber(name: Errno): number {
  return ERRNO_TABLE[name].errno;
}

/**
 * The strerror text of an errno name.
 *
 * @example
 * ```ts
 * strerror('ENONET'); // 'Machine is not on the network'
 * ```
 */
export function strerror(errno: Errno): string {
  return ERRNO_TABLE[errno].text;
}

/**
 * Whether a string (e.g. a Node `error.code`) is an errno name of {@link ERRNO_TABLE}.
 *
 * @example
 * ```ts
 * isErrno('ECONNREFUSED'); // true
 * ```
 */
export function isErrno(name: unknown): name is Errno {
  return typeof name === 'string' && Object.hasOwn(ERRNO_TABLE, name);
}

const BY_NUMBER: ReadonlyMap<number, Errno> = new Map(
  (Object.keys(ERRNO_TABLE) as Errno[]).map((name) => [ERRNO_TABLE[name].errno, name]),
);

/**
 * Symbolic name of a positive errno (`2` → `'ENOENT'`): from {@link ERRNO_TABLE}, else from the
 * platform's table, else `'E<number>'`.
 *
 * @example
 * ```ts
 * errnoName(17); // 'EEXIST'
 * ```
 */
export function errnoName(errno: number): string {
  return BY_NUMBER.get(errno) ?? getSystemErrorMap().get(-errno)?.[0] ?? `E${errno}`;
}

/** Human description of a positive errno as libuv words it (`2` → `'no such file or directory'`). */
export function errnoDescription(errno: number): string {
  return getSystemErrorMap().get(-errno)?.[1] ?? `error ${errno}`;
}

/**
 * The errno name a failure carries, whatever raised it: an `errnoName` property (netlink and
 * socket-option errors), a positive numeric `errno` (the same, older shapes), or a Node system
 * error's `code` (`'EADDRINUSE'`). `undefined` when the failure has none.
 *
 * @example
 * ```ts
 * errnoOf(Object.assign(new Error('bind'), { code: 'EADDRINUSE', errno: -98 })); // 'EADDRINUSE'
 * ```
 */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { errnoName?: unknown; errno?: unknown; code?: unknown };
  if (typeof e.errnoName === 'string') return e.errnoName;
  if (typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return e.code;
  if (typeof e.errno === 'number' && e.errno !== 0) return errnoName(Math.abs(e.errno));
  return undefined;
}
