/**
 * Errors of the userspace data path. Plain `Error` subclasses with a stable `code`; the ipsec
 * layer (`userspace_backend.ts`) maps them to the IpSecManager error classes. Per-packet failures
 * are never thrown: they are counted in {@link DatapathStatistics}.
 */

/** Base of the data path errors. */
export class DatapathError extends Error {
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DatapathError';
    this.code = code;
  }
}

/**
 * I/O on a protected socket whose applied SA was deleted (transform closed, not removed).
 *
 * @example
 * ```ts
 * import { SaDeletedError } from 'tsnetd/datapath';
 * console.log(new SaDeletedError('Cannot send: the outbound SA was deleted').code); // ERR_DATAPATH_SA_DELETED
 * ```
 */
export class SaDeletedError extends DatapathError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_DATAPATH_SA_DELETED', options);
    this.name = 'SaDeletedError';
  }
}

/**
 * A protected socket tried to send to an address its outbound SA does not protect.
 *
 * @example
 * ```ts
 * import { DestinationNotAllowedError } from 'tsnetd/datapath';
 * console.log(new DestinationNotAllowedError('Cannot send').code); // ERR_DATAPATH_DESTINATION_NOT_ALLOWED
 * ```
 */
export class DestinationNotAllowedError extends DatapathError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_DATAPATH_DESTINATION_NOT_ALLOWED', options);
    this.name = 'DestinationNotAllowedError';
  }
}

/**
 * An SA of one address family was applied to a socket of the other.
 *
 * @example
 * ```ts
 * import { FamilyMismatchError } from 'tsnetd/datapath';
 * console.log(new FamilyMismatchError('Cannot apply').code); // ERR_DATAPATH_FAMILY_MISMATCH
 * ```
 */
export class FamilyMismatchError extends DatapathError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_DATAPATH_FAMILY_MISMATCH', options);
    this.name = 'FamilyMismatchError';
  }
}

/**
 * The socket (or engine) is closed.
 *
 * @example
 * ```ts
 * import { SocketClosedError } from 'tsnetd/datapath';
 * console.log(new SocketClosedError('Cannot send: the socket is closed').code); // ERR_DATAPATH_SOCKET_CLOSED
 * ```
 */
export class SocketClosedError extends DatapathError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_DATAPATH_SOCKET_CLOSED', options);
    this.name = 'SocketClosedError';
  }
}

/**
 * A datagram is too long to be sent in one UDP datagram: clear text longer than the UDP payload
 * limit of the family (65507 bytes over IPv4, 65527 over IPv6), or a protected payload whose
 * ESP-in-UDP packet would exceed it. Thrown before anything is sealed or sent.
 *
 * @example
 * ```ts
 * import { PayloadTooLongError } from 'tsnetd/datapath';
 * console.log(new PayloadTooLongError('Cannot send', 65507).code); // ERR_DATAPATH_PAYLOAD_TOO_LONG
 * ```
 */
export class PayloadTooLongError extends DatapathError {
  /** Largest payload, in bytes, that this socket can send now. */
  readonly maxLength: number;
  constructor(message: string, maxLength: number, options?: ErrorOptions) {
    super(message, 'ERR_DATAPATH_PAYLOAD_TOO_LONG', options);
    this.name = 'PayloadTooLongError';
    this.maxLength = maxLength;
  }
}
