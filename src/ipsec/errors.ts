/**
 * Error classes of the IpSecManager API (Android's exception types, shaped `<Condition>Error`
 * with a stable `code`).
 *
 * Android's checked exceptions become subclasses of {@link IpSecError}, each with a stable `code`:
 * `ResourceUnavailableException` → {@link ResourceUnavailableError}, `SpiUnavailableException` →
 * {@link SpiUnavailableError}, `IllegalArgumentException` → {@link IllegalArgumentError},
 * `IllegalStateException` → {@link IllegalStateError}, `SecurityException` → {@link SecurityError},
 * `UnsupportedOperationException` → {@link UnsupportedOperationError}, and the `IOException`s of
 * socket I/O → {@link TransformClosedError} / {@link DestinationMismatchError}.
 */
import { formatSpi } from '../esp/mod.ts';
import { errnoOf, UdpBindError } from '../sys/mod.ts';

/**
 * Base class of every error thrown by the IpSecManager API.
 *
 * @example
 * ```ts
 * import { IpSecError, IpSecManager } from 'tsnetd/ipsec';
 * await using ipsec = await IpSecManager.create();
 * try {
 *   await ipsec.allocateSecurityParameterIndex('0.0.0.0');
 * } catch (err) {
 *   if (err instanceof IpSecError) console.log(err.code); // ERR_IPSEC_ILLEGAL_ARGUMENT
 * }
 * ```
 */
export class IpSecError extends Error {
  /** Stable machine-readable code, `ERR_IPSEC_<CONDITION>`. */
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IpSecError';
    this.code = code;
  }
}

/**
 * A quota is exhausted or the backend could not provide the resource (Android
 * `IpSecManager.ResourceUnavailableException`; e.g. "No more SPIs may be allocated by this requester.").
 *
 * @example
 * ```ts
 * import { ResourceUnavailableError } from 'tsnetd/ipsec';
 * const err = new ResourceUnavailableError('Cannot open socket: port 4500 is busy');
 * console.log(err.code); // ERR_IPSEC_RESOURCE_UNAVAILABLE
 * ```
 */
export class ResourceUnavailableError extends IpSecError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_IPSEC_RESOURCE_UNAVAILABLE', options);
    this.name = 'ResourceUnavailableError';
  }
}

/**
 * The requested SPI is already reserved for that destination (Android
 * `IpSecManager.SpiUnavailableException`); {@link SpiUnavailableError.requestedSpi} is the SPI asked for.
 *
 * @example
 * ```ts
 * import { SpiUnavailableError } from 'tsnetd/ipsec';
 * const err = new SpiUnavailableError(0xd1201d);
 * console.log(err.requestedSpi.toString(16)); // d1201d
 * ```
 */
export class SpiUnavailableError extends IpSecError {
  /** The SPI that was requested (unsigned 32-bit). */
  readonly requestedSpi: number;
  constructor(requestedSpi: number, options?: ErrorOptions) {
    super(
      `Cannot allocate SPI ${formatSpi(requestedSpi)}: SPI is already in use for this destination`,
      'ERR_IPSEC_SPI_UNAVAILABLE',
      options,
    );
    this.name = 'SpiUnavailableError';
    this.requestedSpi = requestedSpi;
  }
}

/**
 * An argument is invalid (Android `IllegalArgumentException`); the message is Android's.
 *
 * @example
 * ```ts
 * import { IllegalArgumentError } from 'tsnetd/ipsec';
 * console.log(new IllegalArgumentError('Unsupported algorithm: rot13').code); // ERR_IPSEC_ILLEGAL_ARGUMENT
 * ```
 */
export class IllegalArgumentError extends IpSecError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_IPSEC_ILLEGAL_ARGUMENT', options);
    this.name = 'IllegalArgumentError';
  }
}

/**
 * An operation is not allowed in the object's current state (Android `IllegalStateException`), e.g.
 * "SPI already in use; cannot be used in new Transforms".
 *
 * @example
 * ```ts
 * import { IllegalStateError } from 'tsnetd/ipsec';
 * console.log(new IllegalStateError('This transform is already closed').code); // ERR_IPSEC_ILLEGAL_STATE
 * ```
 */
export class IllegalStateError extends IpSecError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_IPSEC_ILLEGAL_STATE', options);
    this.name = 'IllegalStateError';
  }
}

/**
 * The caller is not allowed to use the resource (Android `SecurityException`), e.g. a manager
 * other than the one that built a transform tries to apply it.
 *
 * @example
 * ```ts
 * import { SecurityError } from 'tsnetd/ipsec';
 * console.log(new SecurityError('Only the owner of an IpSec Transform may apply it!').code); // ERR_IPSEC_NOT_OWNER
 * ```
 */
export class SecurityError extends IpSecError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_IPSEC_NOT_OWNER', options);
    this.name = 'SecurityError';
  }
}

/**
 * The backend cannot do this (Android `UnsupportedOperationException`), e.g. the userspace
 * backend asked for a transform without UDP encapsulation.
 *
 * @example
 * ```ts
 * import { UnsupportedOperationError } from 'tsnetd/ipsec';
 * console.log(new UnsupportedOperationError('Cannot build transform: needs the kernel backend').code);
 * // ERR_IPSEC_UNSUPPORTED_OPERATION
 * ```
 */
export class UnsupportedOperationError extends IpSecError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_IPSEC_UNSUPPORTED_OPERATION', options);
    this.name = 'UnsupportedOperationError';
  }
}

/**
 * Socket I/O failed because a transform applied to the socket was closed and
 * `removeTransportModeTransforms` was not called yet (Android: the read or write throws
 * `IOException`). Nothing is sent in clear text.
 *
 * @example
 * ```ts
 * import { TransformClosedError } from 'tsnetd/ipsec';
 * console.log(new TransformClosedError('Cannot send: the applied outbound transform is closed').code);
 * // ERR_IPSEC_TRANSFORM_CLOSED
 * ```
 */
export class TransformClosedError extends IpSecError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_IPSEC_TRANSFORM_CLOSED', options);
    this.name = 'TransformClosedError';
  }
}

/**
 * A protected socket tried to send to an address other than its outbound transform's destination
 * (Android: "Attempts to send traffic to any other IP address will result in an IOException").
 *
 * @example
 * ```ts
 * import { DestinationMismatchError } from 'tsnetd/ipsec';
 * const err = new DestinationMismatchError('Cannot send to "127.0.0.2": the transform protects "127.0.0.1"');
 * console.log(err.code); // ERR_IPSEC_DESTINATION_MISMATCH
 * ```
 */
export class DestinationMismatchError extends IpSecError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_IPSEC_DESTINATION_MISMATCH', options);
    this.name = 'DestinationMismatchError';
  }
}

/**
 * A datagram is too long to be sent: clear text longer than one UDP datagram of the socket's
 * family (65507 bytes over IPv4, 65527 over IPv6, `dgram`'s `EMSGSIZE`), or a protected payload
 * whose ESP-in-UDP packet would not fit one UDP datagram. Nothing was sealed or sent;
 * {@link MessageTooLongError.maxLength} is the largest payload that fits.
 *
 * @example
 * ```ts
 * import { MessageTooLongError } from 'tsnetd/ipsec';
 * const err = new MessageTooLongError('Cannot send: the message is 65508 bytes', 65507);
 * console.log(err.code, err.maxLength); // ERR_IPSEC_MESSAGE_TOO_LONG 65507
 * ```
 */
export class MessageTooLongError extends IpSecError {
  /** Largest payload, in bytes, the socket can send in one datagram now. */
  readonly maxLength: number;
  constructor(message: string, maxLength: number, options?: ErrorOptions) {
    super(message, 'ERR_IPSEC_MESSAGE_TOO_LONG', options);
    this.name = 'MessageTooLongError';
    this.maxLength = maxLength;
  }
}

/**
 * The error both backends throw when an encapsulation socket cannot be opened: a busy port
 * (`EADDRINUSE`) or any other bind or socket-option failure, with the same message wording.
 */
export function encapSocketUnavailable(port: number, err: unknown): ResourceUnavailableError {
  const reason =
    errnoOf(err) === 'EADDRINUSE'
      ? 'the port is already in use'
      : err instanceof UdpBindError
        ? err.reason
        : err instanceof Error
          ? err.message
          : String(err);
  return new ResourceUnavailableError(
    `Cannot open UDP encapsulation socket on port ${port}: ${reason}`,
    { cause: err },
  );
}
