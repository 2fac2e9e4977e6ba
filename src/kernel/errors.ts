/**
 * Errors of the kernel backend layer: every class has a `name` equal to the class name and a
 * stable `code` `ERR_KERNEL_<CONDITION>`. The IpSecManager adapter (`src/ipsec/kernel_backend.ts`)
 * maps them to the IpSecManager error classes, as it does for the userspace data path's errors;
 * applications see those (`IllegalStateError`, `TransformClosedError`, …), never these.
 *
 * Netlink and socket-option failures keep their own classes (`NetlinkError` from `src/sys`,
 * `SocketOptionError` from `src/xfrm`) unless this layer gives them a meaning (`EINVAL` →
 * {@link KernelInvalidArgumentError}, `ENOSYS` → {@link KernelUnsupportedError}).
 */

/**
 * Base class of every error thrown by `src/kernel`.
 *
 * @example
 * ```ts
 * import { KernelError } from './errors.ts';
 * try { doSomething(); } catch (err) { if (err instanceof KernelError) console.log(err.code); }
 * ```
 */
export class KernelError extends Error {
  /** Stable machine-readable code, `ERR_KERNEL_<CONDITION>`. */
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KernelError';
    this.code = code;
  }
}

/** Why the kernel cannot carry ESP for us: see `probeKernelIpsecSupport` in `src/xfrm`. */
export type KernelUnavailableReason = 'no-esp' | 'no-permission' | 'no-xfrm';

/**
 * The kernel cannot run the backend: no ESP (`CONFIG_INET_ESP`), no XFRM netlink, or no
 * `CAP_NET_ADMIN`.
 *
 * @example
 * ```ts
 * import { KernelUnavailableError } from './errors.ts';
 * new KernelUnavailableError('no-esp', 'probe SA refused').reason; // 'no-esp'
 * ```
 */
export class KernelUnavailableError extends KernelError {
  /** `'no-esp'`, `'no-permission'` or `'no-xfrm'`. */
  readonly reason: KernelUnavailableReason;
  /** What the probe saw. */
  readonly detail: string;
  constructor(reason: KernelUnavailableReason, detail: string, options?: ErrorOptions) {
    super(`Cannot use kernel IPsec (${reason}): ${detail}`, 'ERR_KERNEL_UNAVAILABLE', options);
    this.name = 'KernelUnavailableError';
    this.reason = reason;
    this.detail = detail;
  }
}

/**
 * The operation does not fit the object's state: a closed socket or backend, a socket bound twice,
 * a deleted SA read, a kernel answer that contradicts the request.
 *
 * @example
 * ```ts
 * import { KernelStateError } from './errors.ts';
 * new KernelStateError('Cannot send: the socket is closed').code; // 'ERR_KERNEL_ILLEGAL_STATE'
 * ```
 */
export class KernelStateError extends KernelError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_KERNEL_ILLEGAL_STATE', options);
    this.name = 'KernelStateError';
  }
}

/**
 * An argument the kernel (or this layer) refuses: an object of another backend, mismatched
 * address families, a policy or SA the kernel answers `EINVAL` to.
 *
 * @example
 * ```ts
 * import { KernelInvalidArgumentError } from './errors.ts';
 * new KernelInvalidArgumentError('Mismatched address family').code; // 'ERR_KERNEL_INVALID_ARGUMENT'
 * ```
 */
export class KernelInvalidArgumentError extends KernelError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_KERNEL_INVALID_ARGUMENT', options);
    this.name = 'KernelInvalidArgumentError';
  }
}

/**
 * The kernel does not implement what was asked (`ENOSYS`, `EPROTONOSUPPORT` for an algorithm).
 *
 * @example
 * ```ts
 * import { KernelUnsupportedError } from './errors.ts';
 * new KernelUnsupportedError('Cannot build transform').code; // 'ERR_KERNEL_UNSUPPORTED'
 * ```
 */
export class KernelUnsupportedError extends KernelError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_KERNEL_UNSUPPORTED', options);
    this.name = 'KernelUnsupportedError';
  }
}

/**
 * I/O on a socket whose applied outbound SA was deleted (its transform closed, not removed).
 *
 * @example
 * ```ts
 * import { KernelSaDeletedError } from './errors.ts';
 * new KernelSaDeletedError('Cannot send').code; // 'ERR_KERNEL_SA_DELETED'
 * ```
 */
export class KernelSaDeletedError extends KernelError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_KERNEL_SA_DELETED', options);
    this.name = 'KernelSaDeletedError';
  }
}

/**
 * A protected socket tried to send to an address its outbound SA does not protect.
 *
 * @example
 * ```ts
 * import { KernelDestinationError } from './errors.ts';
 * new KernelDestinationError('Cannot send').code; // 'ERR_KERNEL_DESTINATION_NOT_ALLOWED'
 * ```
 */
export class KernelDestinationError extends KernelError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_KERNEL_DESTINATION_NOT_ALLOWED', options);
    this.name = 'KernelDestinationError';
  }
}

/**
 * A datagram too long for one UDP datagram (clear text) or one ESP(-in-UDP) packet (protected),
 * refused before the kernel sees it.
 *
 * @example
 * ```ts
 * import { KernelPayloadTooLongError } from './errors.ts';
 * new KernelPayloadTooLongError('Cannot send', 65507).maxLength; // 65507
 * ```
 */
export class KernelPayloadTooLongError extends KernelError {
  /** Largest payload, in bytes, the socket can send now. */
  readonly maxLength: number;
  constructor(message: string, maxLength: number, options?: ErrorOptions) {
    super(message, 'ERR_KERNEL_PAYLOAD_TOO_LONG', options);
    this.name = 'KernelPayloadTooLongError';
    this.maxLength = maxLength;
  }
}
