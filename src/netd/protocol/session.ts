/**
 * One client connection's protocol state (netd's FrameworkListener framing): the NUL framer, the
 * remembered sequence number, and the mapping of each frame to reply lines. Pure apart from
 * the injected command executor, so golden transcripts drive it without a socket.
 */

import { type Frame, RequestFramer } from './request_framer.ts';
import { formatReply, RESPONSE_CODE, type Reply } from './response.ts';
import { PROTOCOL_ERROR_MESSAGES, tokenize } from './tokenize.ts';

/** Runs a tokenized command (argv[0] = command word) and returns its replies. */
export type CommandExecutor = (argv: readonly string[]) => Promise<Reply[]>;

/**
 * Protocol state of one connection.
 *
 * @example
 * ```ts
 * const session = new ProtocolSession(async () => [{ code: 200, message: 'success' }]);
 * for (const frame of session.push(new TextEncoder().encode('5 ipfwd status\0'))) {
 *   await session.handle(frame); // ['200 5 success']
 * }
 * ```
 */
export class ProtocolSession {
  readonly #framer = new RequestFramer();
  readonly #execute: CommandExecutor;
  #seq = 0;

  constructor(execute: CommandExecutor) {
    this.#execute = execute;
  }

  /** The sequence number replies currently carry. */
  get seq(): number {
    return this.#seq;
  }

  /** Frames the bytes of a chunk; handle the returned frames in order with {@link handle}. */
  push(chunk: Uint8Array): Frame[] {
    return this.#framer.push(chunk);
  }

  /** The reply lines (without NULs) for one frame. */
  async handle(frame: Frame): Promise<string[]> {
    if (frame.kind === 'too-large') {
      return [
        this.#line({
          code: RESPONSE_CODE.CommandSyntaxError,
          message: PROTOCOL_ERROR_MESSAGES.commandTooLarge,
        }),
      ];
    }
    const tokens = tokenize(frame.text, this.#seq);
    this.#seq = tokens.seq;
    if (!tokens.ok)
      return [this.#line({ code: RESPONSE_CODE.CommandSyntaxError, message: tokens.message })];
    const replies = await this.#execute(tokens.argv);
    return replies.map((reply) => this.#line(reply));
  }

  #line(reply: Reply): string {
    return formatReply(reply, this.#seq);
  }
}
