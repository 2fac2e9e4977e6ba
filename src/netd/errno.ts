/**
 * netd's view of errno: the table of names, numbers and glibc/bionic `strerror` texts lives in
 * `src/sys/errno.ts` (re-exported here, as netd prints them in `400 <seq> <action> failed
 * (<strerror>)` replies); this file maps the diagnostics printed by iproute2 back to an errno
 * (see `errnoFromToolOutput`).
 */

import { ERRNO_TABLE, type Errno, isErrno, strerror } from '../sys/errno.ts';

export { ERRNO_TABLE, type Errno, isErrno, strerror };

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
