/**
 * Socket options the kernel backend sets on ordinary Node sockets, as Android's netd does:
 * per-socket transport-mode policies (`IP_XFRM_POLICY` 17 at `IPPROTO_IP`, `IPV6_XFRM_POLICY` 35 at
 * `IPPROTO_IPV6`; value from `encodeSocketPolicy`), their removal (`setsockopt(…, NULL, 0)` clears
 * both directions — netd's `ipSecRemoveTransportModeTransform`), and RFC 3948 decapsulation on a
 * UDP socket (`UDP_ENCAP` 100 = `UDP_ENCAP_ESPINUDP` 2). All calls go through koffi on the
 * socket's own descriptor; all need CAP_NET_ADMIN except `UDP_ENCAP`.
 *
 * Which option level is used follows the socket's family (`SO_DOMAIN`), as netd does: an AF_INET6
 * socket takes `IPV6_XFRM_POLICY` even for an IPv4 transform (dual-stack).
 */
import { errnoNumber } from '../sys/errno.ts';
import { libc } from '../sys/libc.ts';
import { HOST_LITTLE_ENDIAN } from '../sys/netlink/message.ts';
import { type SocketLike, socketFd } from '../sys/socket_fd.ts';
import { SocketOptionError } from './errors.ts';
import { UDP_ENCAP_ESPINUDP } from './messages.ts';
import { AF_INET, AF_INET6 } from './xfrm_address.ts';

/** `IPPROTO_IP` (= `SOL_IP`). */
export const IPPROTO_IP = 0;
/** `IPPROTO_IPV6` (= `SOL_IPV6`). */
export const IPPROTO_IPV6 = 41;
/** `IPPROTO_UDP` (= `SOL_UDP`). */
export const IPPROTO_UDP = 17;
/** `IP_XFRM_POLICY`. */
export const IP_XFRM_POLICY = 17;
/** `IPV6_XFRM_POLICY`. */
export const IPV6_XFRM_POLICY = 35;
/** `UDP_ENCAP`. */
export const UDP_ENCAP = 100;
const SOL_SOCKET = 1;

export { type SocketLike, socketFd };
const SO_DOMAIN = 39;
const EAFNOSUPPORT = errnoNumber('EAFNOSUPPORT');

function intValue(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, value, HOST_LITTLE_ENDIAN);
  return out;
}

function getIntOption(fd: number, level: number, name: number, what: string): number {
  const c = libc();
  const value = new Uint8Array(4);
  const length = intValue(4);
  if (c.getsockopt(fd, level, name, value, length) < 0)
    throw new SocketOptionError(`read ${what}`, c.errno());
  return new DataView(value.buffer).getInt32(0, HOST_LITTLE_ENDIAN);
}

/**
 * The socket's address family (`SO_DOMAIN`): `AF_INET` (2) or `AF_INET6` (10), or another number.
 *
 * @throws {SocketFdUnavailableError} see {@link socketFd}.
 * @throws {SocketOptionError} when `getsockopt` fails (`ENOTSOCK`, `EBADF`).
 */
export function socketFamily(socket: SocketLike): number {
  return getIntOption(socketFd(socket), SOL_SOCKET, SO_DOMAIN, 'SO_DOMAIN');
}

function policyOption(fd: number): { level: number; name: number; label: string } {
  const family = getIntOption(fd, SOL_SOCKET, SO_DOMAIN, 'SO_DOMAIN');
  if (family === AF_INET)
    return { level: IPPROTO_IP, name: IP_XFRM_POLICY, label: 'IP_XFRM_POLICY' };
  if (family === AF_INET6)
    return { level: IPPROTO_IPV6, name: IPV6_XFRM_POLICY, label: 'IPV6_XFRM_POLICY' };
  throw new SocketOptionError(`apply an XFRM policy to a socket of family ${family}`, EAFNOSUPPORT);
}

/**
 * Installs a per-socket policy (one direction; the direction is inside `policy`). Replaces the
 * socket's previous policy for that direction. `ip xfrm policy` lists per-socket policies with
 * direction "socket in/out"; `getsockopt` cannot read them back (`ENOPROTOOPT`). Sending on a
 * socket whose OUT template has no SA fails with `EAGAIN` — and Node's `dgram.send()` retries
 * `EAGAIN` without end, so install the SA before the OUT policy.
 *
 * @param policy - bytes from `encodeSocketPolicy` (`xfrm_userpolicy_info` + `xfrm_user_tmpl`).
 * @throws {SocketOptionError} `EPERM` without CAP_NET_ADMIN, `EINVAL` for a policy the kernel
 *   refuses, `EAFNOSUPPORT` for a non-IP socket.
 * @throws {SocketFdUnavailableError} see {@link socketFd}.
 * @example
 * ```ts
 * applySocketPolicy(udp, encodeSocketPolicy({ direction: 'out', selector: { family: AF_INET } },
 *   { destination: '192.0.2.1', source: '192.0.2.2', spi: 0x1000, reqid: 1000 }));
 * ```
 */
export function applySocketPolicy(socket: SocketLike, policy: Uint8Array): void {
  const fd = socketFd(socket);
  const option = policyOption(fd);
  const c = libc();
  if (c.setsockopt(fd, option.level, option.name, policy, policy.length) < 0) {
    throw new SocketOptionError(`apply ${option.label}`, c.errno());
  }
}

/**
 * Removes the socket's policies in both directions (`setsockopt(…, NULL, 0)`, Android's
 * `removeTransportModeTransforms`). Traffic on the socket is cleartext again.
 *
 * @throws {SocketOptionError} `EPERM` without CAP_NET_ADMIN.
 * @throws {SocketFdUnavailableError} see {@link socketFd}.
 * @example
 * ```ts
 * removeSocketPolicies(udp);
 * ```
 */
export function removeSocketPolicies(socket: SocketLike): void {
  const fd = socketFd(socket);
  const option = policyOption(fd);
  const c = libc();
  if (c.setsockopt(fd, option.level, option.name, null, 0) < 0) {
    throw new SocketOptionError(`remove ${option.label}`, c.errno());
  }
}

/**
 * Turns a UDP socket into an RFC 3948 encapsulation socket: `setsockopt(IPPROTO_UDP, UDP_ENCAP,
 * type)`; the kernel then decapsulates ESP arriving on it and delivers only non-ESP (IKE) payloads.
 *
 * @param type - default `UDP_ENCAP_ESPINUDP` (2).
 * @throws {SocketOptionError} `ENOPROTOOPT` on a non-UDP socket.
 * @throws {SocketFdUnavailableError} see {@link socketFd}.
 * @example
 * ```ts
 * udp.bind(4500, () => setUdpEncapsulation(udp));
 * ```
 */
export function setUdpEncapsulation(socket: SocketLike, type: number = UDP_ENCAP_ESPINUDP): void {
  const fd = socketFd(socket);
  const c = libc();
  const value = intValue(type);
  if (c.setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, value, 4) < 0)
    throw new SocketOptionError('set UDP_ENCAP', c.errno());
}

/**
 * Reads `UDP_ENCAP` back (0 = none, 2 = `UDP_ENCAP_ESPINUDP`).
 *
 * @throws {SocketOptionError} when `getsockopt` fails.
 * @throws {SocketFdUnavailableError} see {@link socketFd}.
 * @example
 * ```ts
 * getUdpEncapsulation(udp); // 2
 * ```
 */
export function getUdpEncapsulation(socket: SocketLike): number {
  return getIntOption(socketFd(socket), IPPROTO_UDP, UDP_ENCAP, 'UDP_ENCAP');
}
