/**
 * Request tokenizer of netd's FrameworkListener (libsysutils
 * `FrameworkListener::dispatchCommand`, Android 9). Pure: one request (the bytes before its NUL,
 * decoded as latin1 so every byte is one character) in, argv or a `500` message out.
 *
 * Rules, in the order the original applies them while scanning left to right:
 * - `\\` → `\`, `\"` → `"`, any other escape → `Unsupported escape sequence` (at once);
 * - `"` toggles quoting and is dropped; an unquoted space ends a token (so two spaces make an
 *   empty argument);
 * - the first token is the sequence number, parsed with C `strtol(…, 0)` when the first
 *   unquoted space is seen; not entirely numeric → `Invalid sequence number`. A request without
 *   any unquoted space therefore has no sequence number: its only token becomes argv[0];
 * - a token may hold at most `TOKEN_LENGTH_MAX` bytes and a request at most `CMD_ARGS_MAX`
 *   arguments after the sequence number → `Command too long`;
 * - a quote still open at the end → `Unclosed quotes error`.
 */
import { cStrtol } from '../c_number.ts';

/** Maximum number of arguments after the sequence number (`CMD_ARGS_MAX`). */
export const CMD_ARGS_MAX = 26;
/** Size of the request buffer, terminating NUL included (`CMD_BUF_SIZE`). */
export const CMD_BUF_SIZE = 1024;
/** Longest token: the token buffer is `CMD_BUF_SIZE` including its NUL. */
export const TOKEN_LENGTH_MAX = CMD_BUF_SIZE - 1;

/** Fixed `500` texts of the tokenizer and framer. */
export const PROTOCOL_ERROR_MESSAGES = {
  unsupportedEscape: 'Unsupported escape sequence',
  invalidSequenceNumber: 'Invalid sequence number',
  commandTooLong: 'Command too long',
  unclosedQuotes: 'Unclosed quotes error',
  commandTooLarge: 'Command too large for buffer',
  commandNotRecognized: 'Command not recognized',
} as const;

/** Result of {@link tokenize}: `seq` is the connection's sequence number after this request. */
export type TokenizeResult =
  | { readonly ok: true; readonly seq: number; readonly argv: readonly string[] }
  | { readonly ok: false; readonly seq: number; readonly message: string };

function parseSequenceNumber(token: string): number | undefined {
  const parsed = cStrtol(token, 0);
  // C: `*endptr` must be the NUL. Without a conversion endptr is the token start, which is the
  // NUL only for an empty token (so an empty sequence number is 0).
  const complete = parsed.end === 0 ? token.length === 0 : parsed.end === token.length;
  if (!complete) return undefined;
  // `(int)strtol(…)`: keep the low 32 bits, signed.
  return Number(BigInt.asIntN(32, parsed.value));
}

/**
 * Splits one request into a sequence number and argv.
 *
 * @param request the request text without its terminating NUL (latin1: one char per byte)
 * @param seq the connection's current sequence number (used when this request sets none)
 * @returns the argv and new sequence number, or the `500` message and the sequence number to
 *   reply with
 * @example
 * ```ts
 * tokenize('7 network create "oem 1"', 0); // { ok: true, seq: 7, argv: ['network', 'create', 'oem 1'] }
 * tokenize('7 a\\n', 0); // { ok: false, seq: 7, message: 'Unsupported escape sequence' }
 * ```
 */
export function tokenize(request: string, seq: number): TokenizeResult {
  const argv: string[] = [];
  let token = '';
  let escaped = false;
  let quoted = false;
  let haveSeq = false;
  let current = seq;
  const tooLong = (): TokenizeResult => ({
    ok: false,
    seq: current,
    message: PROTOCOL_ERROR_MESSAGES.commandTooLong,
  });

  for (const ch of request) {
    if (ch === '\\') {
      if (escaped) {
        if (token.length >= TOKEN_LENGTH_MAX) return tooLong();
        token += '\\';
        escaped = false;
      } else {
        escaped = true;
      }
      continue;
    }
    if (escaped) {
      if (ch !== '"') {
        return { ok: false, seq: current, message: PROTOCOL_ERROR_MESSAGES.unsupportedEscape };
      }
      if (token.length >= TOKEN_LENGTH_MAX) return tooLong();
      token += '"';
      escaped = false;
      continue;
    }
    if (ch === '"') {
      quoted = !quoted;
      continue;
    }
    if (token.length >= TOKEN_LENGTH_MAX) return tooLong();
    if (!quoted && ch === ' ') {
      if (!haveSeq) {
        const parsed = parseSequenceNumber(token);
        if (parsed === undefined) {
          return {
            ok: false,
            seq: current,
            message: PROTOCOL_ERROR_MESSAGES.invalidSequenceNumber,
          };
        }
        current = parsed;
        haveSeq = true;
      } else {
        if (argv.length >= CMD_ARGS_MAX) return tooLong();
        argv.push(token);
      }
      token = '';
      continue;
    }
    token += ch;
  }
  if (argv.length >= CMD_ARGS_MAX) return tooLong();
  argv.push(token);
  if (quoted) {
    return { ok: false, seq: current, message: PROTOCOL_ERROR_MESSAGES.unclosedQuotes };
  }
  return { ok: true, seq: current, argv };
}
