/**
 * Who is on the other end of a connected Unix stream socket, as the kernel says: `SO_PEERCRED`
 * (the pid, uid and gid the peer had when it called `connect`, or `socketpair`) and
 * `SO_PEERGROUPS` (its supplementary groups, Linux ≥ 4.13). Nothing the peer sends can change
 * these; the privileged side knows its callers only by them.
 */
import { errnoNumber } from './errno.ts';
import { SysError } from './errors.ts';
import { libc } from './libc.ts';
import { HOST_LITTLE_ENDIAN } from './netlink/message.ts';
import { type SocketLike, socketFd } from './socket_fd.ts';

const SOL_SOCKET = 1;
/** `SO_PEERCRED`. */
export const SO_PEERCRED = 17;
/** `SO_PEERGROUPS`. */
export const SO_PEERGROUPS = 59;
const ERANGE = errnoNumber('ERANGE');
/** Upper bound on the groups read (the kernel's `NGROUPS_MAX` is 65536). */
const MAX_GROUPS = 65536;

/** The peer's process and identity (`struct ucred`). */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/**
 * A `getsockopt` for peer credentials failed (not a Unix socket, not connected, closed).
 *
 * @example
 * ```ts
 * import { PeerCredentialsError } from './peer_credentials.ts';
 * new PeerCredentialsError('SO_PEERCRED', 88).code; // 'ERR_SYS_PEER_CREDENTIALS'
 * ```
 */
export class PeerCredentialsError extends SysError {
  readonly errno: number;
  constructor(option: string, errno: number) {
    super(`Cannot read ${option} of the peer (errno ${errno})`, 'ERR_SYS_PEER_CREDENTIALS');
    this.name = 'PeerCredentialsError';
    this.errno = errno;
  }
}

function lengthCell(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, HOST_LITTLE_ENDIAN);
  return out;
}

/**
 * The kernel's record of the peer of a connected Unix socket.
 *
 * @throws {PeerCredentialsError} when the descriptor is not a connected Unix socket.
 * @throws {SocketFdUnavailableError} when the Node socket has no descriptor.
 * @example
 * ```ts
 * server.on('connection', (conn) => console.log(peerCredentials(conn).uid));
 * ```
 */
export function peerCredentials(socket: SocketLike): PeerCredentials {
  const fd = socketFd(socket);
  const c = libc();
  const value = new Uint8Array(12);
  const length = lengthCell(12);
  if (c.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, value, length) < 0)
    throw new PeerCredentialsError('SO_PEERCRED', c.errno());
  const view = new DataView(value.buffer);
  return {
    pid: view.getInt32(0, HOST_LITTLE_ENDIAN),
    uid: view.getUint32(4, HOST_LITTLE_ENDIAN),
    gid: view.getUint32(8, HOST_LITTLE_ENDIAN),
  };
}

/**
 * The peer's supplementary groups (`SO_PEERGROUPS`), as captured at `connect` time.
 *
 * @throws {PeerCredentialsError} when the kernel cannot say (not a Unix socket, kernel < 4.13).
 * @example
 * ```ts
 * server.on('connection', (conn) => console.log(peerGroups(conn))); // e.g. [4, 24, 1000]
 * ```
 */
export function peerGroups(socket: SocketLike): number[] {
  const fd = socketFd(socket);
  const c = libc();
  let capacity = 64;
  for (;;) {
    const value = new Uint8Array(capacity * 4);
    const length = lengthCell(value.length);
    const rc = c.getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, value, length);
    const got = new DataView(length.buffer).getUint32(0, HOST_LITTLE_ENDIAN);
    if (rc < 0) {
      const errno = c.errno();
      // ERANGE: the buffer was short; the kernel wrote the size it needs into `length`.
      if (errno === ERANGE && got > value.length && got <= MAX_GROUPS * 4) {
        capacity = Math.ceil(got / 4);
        continue;
      }
      throw new PeerCredentialsError('SO_PEERGROUPS', errno);
    }
    const view = new DataView(value.buffer);
    const groups: number[] = [];
    for (let i = 0; i + 4 <= Math.min(got, value.length); i += 4)
      groups.push(view.getUint32(i, HOST_LITTLE_ENDIAN));
    return groups;
  }
}
