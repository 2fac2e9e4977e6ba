/**
 * Linux errno names, numbers and their glibc/bionic `strerror` texts, as netd prints them in
 * `400 <seq> <action> failed (<strerror>)` replies.
 * Also maps the diagnostics printed by iproute2 back to an errno (see `errnoFromToolOutput`).
 */

/** The errno values netd replies can carry, with their Linux numbers and strerror texts. */
export const ERRNO_TABLE = {
  EPERM: { errno: 1, text: 'Operation not permitted' },
  ENOENT: { errno: 2, text: 'No such file or directory' },
  ESRCH: { errno: 3, text: 'No such process' },
  EIO: { errno: 5, text: 'Input/output error' },
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
  ENONET: { errno: 64, text: 'Machine is not on the network' },
  EOPNOTSUPP: { errno: 95, text: 'Operation not supported' },
  EAFNOSUPPORT: { errno: 97, text: 'Address family not supported by protocol' },
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

const BY_TEXT: ReadonlyMap<string, Errno> = new Map(
  (Object.keys(ERRNO_TABLE) as Errno[]).map((name) => [ERRNO_TABLE[name].text, name]),
);

/**
 * Kernel extended-ack messages that iproute2 prints as `Error: <msg>.` instead of the errno
 * text; the errno each one comes with in the kernel sources (net/ipv4/fib_*.c, net/ipv6/route.c).
 */
const EXTACK_ERRNO: ReadonlyMap<string, Errno> = new Map<string, Errno>([
  ['Invalid prefix for given prefix length', 'EINVAL'],
  ['Nexthop has invalid gateway', 'EINVAL'],
  ['Gateway can not be a local address', 'EINVAL'],
  ['Nexthop device is not up', 'ENETDOWN'],
  ['Device for nexthop is not up', 'ENETDOWN'],
  ['Nexthop has invalid scope', 'EINVAL'],
  ['Invalid gateway address', 'EINVAL'],
]);

const RTNETLINK_REGEXP = /RTNETLINK answers: ([^\n]+)/;
const EXTACK_REGEXP = /Error: ([^\n]+?)\.?\s*$/m;

/**
 * Recovers the errno from what iproute2 printed on stderr: `RTNETLINK answers: <strerror>` is
 * exact; a kernel extended-ack line `Error: <msg>.` is looked up in a table of known messages;
 * anything else (including `Cannot find device`) returns `fallback`.
 *
 * @example
 * ```ts
 * errnoFromToolOutput('RTNETLINK answers: File exists\n', 'EINVAL'); // 'EEXIST'
 * ```
 */
export function errnoFromToolOutput(stderr: string, fallback: Errno): Errno {
  const rt = RTNETLINK_REGEXP.exec(stderr);
  if (rt?.[1] !== undefined) return BY_TEXT.get(rt[1].trim()) ?? fallback;
  if (/Cannot find device/.test(stderr)) return 'ENODEV';
  const ext = EXTACK_REGEXP.exec(stderr);
  if (ext?.[1] !== undefined) return EXTACK_ERRNO.get(ext[1].trim()) ?? fallback;
  return fallback;
}
