/**
 * netd response codes and reply formatting (netd's response framing and
 * codes; libsysutils `SocketClient::sendMsg`). A reply is `"%d %d %s"` (code, sequence number,
 * message), with ` (<strerror>)` appended when an errno is attached; broadcasts (6xx) carry no
 * sequence number. Each reply goes on the wire followed by one NUL.
 */
import { type Errno, strerror } from '../errno.ts';

/** The response codes tsnetd uses (`ResponseCode.h`). */
export const RESPONSE_CODE = {
  ActionInitiated: 100,
  CommandOkay: 200,
  IpFwdStatusResult: 211,
  OperationFailed: 400,
  CommandSyntaxError: 500,
  CommandParameterError: 501,
  InterfaceChange: 600,
} as const;

/** One reply of the daemon to a command. */
export interface Reply {
  /** Numeric response code, 100..699. */
  readonly code: number;
  /** Message text, without the errno suffix. */
  readonly message: string;
  /** When set, ` (<strerror>)` is appended (`sendMsg(…, addErrno = true)`). */
  readonly errno?: Errno;
}

/**
 * Formats a reply line without its NUL: `<code> <seq> <message>[ (<strerror>)]`.
 *
 * @example
 * ```ts
 * formatReply({ code: 400, message: 'addRoute() failed', errno: 'ENONET' }, 0);
 * // '400 0 addRoute() failed (Machine is not on the network)'
 * ```
 */
export function formatReply(reply: Reply, seq: number): string {
  const base = `${reply.code} ${seq} ${reply.message}`;
  return reply.errno === undefined ? base : `${base} (${strerror(reply.errno)})`;
}

/**
 * Formats an unsolicited broadcast (6xx): `<code> <message>`, no sequence number.
 *
 * @example
 * ```ts
 * formatBroadcast({ code: 600, message: 'Iface added oem0' }); // '600 Iface added oem0'
 * ```
 */
export function formatBroadcast(reply: Reply): string {
  return `${reply.code} ${reply.message}`;
}

/**
 * Whether a reply line ends a command: its leading three-digit code is 200..599
 * (what `ndc` checks before it exits).
 *
 * @example
 * ```ts
 * isFinalReplyLine('200 0 success'); // true
 * isFinalReplyLine('600 Iface added oem0'); // false
 * ```
 */
export function isFinalReplyLine(line: string): boolean {
  const m = /^(\d{3})(?: |$)/.exec(line);
  if (m?.[1] === undefined) return false;
  const code = Number(m[1]);
  return code >= 200 && code < 600;
}

/** Convenience constructors for the common replies of netd's command table. */
export const replies = {
  success: (): Reply => ({ code: RESPONSE_CODE.CommandOkay, message: 'success' }),
  syntaxError: (message: string): Reply => ({ code: RESPONSE_CODE.CommandSyntaxError, message }),
  operationFailed: (action: string, errno: Errno): Reply => ({
    code: RESPONSE_CODE.OperationFailed,
    message: `${action} failed`,
    errno,
  }),
} as const;
