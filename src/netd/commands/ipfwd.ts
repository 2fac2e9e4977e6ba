/**
 * The `ipfwd` command (`CommandListener::IpFwdCmd`, Android 9):
 * `status` (211), `enable|disable <requester>`, `add|remove <in> <out>`; anything else
 * `500 Unknown ipfwd cmd`. Replies `200 ipfwd operation succeeded` or
 * `400 ipfwd operation failed (<strerror>)`.
 */
import { NetdOperationError } from '../errors.ts';
import { RESPONSE_CODE, type Reply } from '../protocol/response.ts';
import type { CommandContext } from './command_context.ts';

const SUCCEEDED: Reply = { code: RESPONSE_CODE.CommandOkay, message: 'ipfwd operation succeeded' };

async function outcome(operation: () => Promise<void>): Promise<Reply[]> {
  try {
    await operation();
  } catch (error: unknown) {
    if (error instanceof NetdOperationError) {
      return [
        {
          code: RESPONSE_CODE.OperationFailed,
          message: 'ipfwd operation failed',
          errno: error.errno,
        },
      ];
    }
    throw error;
  }
  return [SUCCEEDED];
}

/**
 * Handles `ipfwd …` (argv[0] is `ipfwd`).
 *
 * @example
 * ```ts
 * await ipfwdCommand(ctx, ['ipfwd', 'status']); // [{ code: 211, message: 'Forwarding disabled' }]
 * ```
 */
export async function ipfwdCommand(ctx: CommandContext, argv: readonly string[]): Promise<Reply[]> {
  const [, verb, a, b] = argv;
  if (argv.length === 2 && verb === 'status') {
    const state = ctx.tether.forwardingRequestCount > 0 ? 'enabled' : 'disabled';
    return [{ code: RESPONSE_CODE.IpFwdStatusResult, message: `Forwarding ${state}` }];
  }
  if (argv.length === 3 && a !== undefined) {
    if (verb === 'enable') return outcome(() => ctx.tether.enableForwarding(a));
    if (verb === 'disable') return outcome(() => ctx.tether.disableForwarding(a));
  }
  if (argv.length === 4 && a !== undefined && b !== undefined) {
    if (verb === 'add') return outcome(() => ctx.routes.enableTethering(a, b));
    if (verb === 'remove') return outcome(() => ctx.routes.disableTethering(a, b));
  }
  return [{ code: RESPONSE_CODE.CommandSyntaxError, message: 'Unknown ipfwd cmd' }];
}
