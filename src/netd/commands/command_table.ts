/**
 * The command table: dispatch on argv[0], exact and case-sensitive (as netd's FrameworkListener);
 * an unknown word → `500 Command not recognized`.
 */

import { type Reply, replies } from '../protocol/response.ts';
import { PROTOCOL_ERROR_MESSAGES } from '../protocol/tokenize.ts';
import type { CommandContext, CommandHandler } from './command_context.ts';
import { ipfwdCommand } from './ipfwd.ts';
import { networkCommand } from './network.ts';

/** The commands tsnetd implements. */
export const COMMAND_TABLE: ReadonlyMap<string, CommandHandler> = new Map([
  ['network', networkCommand],
  ['ipfwd', ipfwdCommand],
]);

/**
 * Dispatches one tokenized command.
 *
 * @example
 * ```ts
 * await dispatchCommand(ctx, ['ipfwd', 'status']);
 * ```
 */
export async function dispatchCommand(
  context: CommandContext,
  argv: readonly string[],
): Promise<Reply[]> {
  const handler = COMMAND_TABLE.get(argv[0] ?? '');
  if (handler === undefined)
    return [replies.syntaxError(PROTOCOL_ERROR_MESSAGES.commandNotRecognized)];
  return handler(context, argv);
}
