/**
 * Errors of the kernel backend layer: every class has a `name` equal to the class name and a
 * stable `code` `ERR_XFRM_<CONDITION>`.
 *
 * - {@link SocketOptionError}: a `setsockopt`/`getsockopt` on a socket's descriptor failed.
 *
 * Netlink, FFI and descriptor errors (`NetlinkError`, `MalformedNetlinkMessageError`,
 * `FfiUnavailableError`, `SocketFdUnavailableError`)
 * come from the system-call layer `src/sys` and are re-exported here.
 */
import { errnoDescription, errnoName } from '../sys/errors.ts';

export {
  errnoDescription,
  errnoName,
  FfiUnavailableError,
  MalformedNetlinkMessageError,
  NetlinkError,
  type NetlinkErrorOptions,
  SocketFdUnavailableError,
} from '../sys/errors.ts';

/**
 * Base class of every error thrown by `src/xfrm`.
 *
 * @example
 * ```ts
 * import { XfrmError } from './errors.ts';
 * try { doSomething(); } catch (err) { if (err instanceof XfrmError) console.log(err.code); }
 * ```
 */
export class XfrmError extends Error {
  /** Stable machine-readable code, `ERR_XFRM_<CONDITION>`. */
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'XfrmError';
    this.code = code;
  }
}

/**
 * A `setsockopt`/`getsockopt` on a Node socket's descriptor failed; carries the positive `errno`
 * and its symbolic name (`EPERM` without CAP_NET_ADMIN, `EINVAL` for a malformed policy, …).
 *
 * @example
 * ```ts
 * import { SocketOptionError } from './errors.ts';
 * new SocketOptionError('apply IP_XFRM_POLICY', 1).message; // 'Cannot apply IP_XFRM_POLICY: operation not permitted (EPERM)'
 * ```
 */
export class SocketOptionError extends XfrmError {
  readonly errno: number;
  readonly errnoName: string;
  constructor(operation: string, errno: number, options?: ErrorOptions) {
    const name = errnoName(errno);
    super(
      `Cannot ${operation}: ${errnoDescription(errno)} (${name})`,
      'ERR_XFRM_SOCKET_OPTION',
      options,
    );
    this.name = 'SocketOptionError';
    this.errno = errno;
    this.errnoName = name;
  }
}
