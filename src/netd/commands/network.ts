/**
 * The `network` command (`CommandListener::NetworkCommand`, Android 9):
 * `create`, `destroy`, `interface add|remove`, `route [legacy <uid>] add|remove`, with the
 * original word-count checks, their order and their reply texts. Other sub-commands of netd
 * (`default`, `permission`, `users`, `protect`) are not implemented and answer
 * `500 Unknown argument`.
 */
import { cStrtoul } from '../c_number.ts';
import { type Permission, stringToPermission } from '../fwmark.ts';
import { stringToNetId } from '../net_id.ts';
import { type Reply, replies } from '../protocol/response.ts';
import type { CommandContext } from './command_context.ts';
import { runOperation } from './operation_reply.ts';

async function route(ctx: CommandContext, argv: readonly string[]): Promise<Reply[]> {
  const argc = argv.length;
  if (argc < 6 || argc > 9) return [replies.syntaxError('Incorrect number of arguments')];
  let next = 2;
  let legacy = false;
  let uid = 0;
  if (argv[next] === 'legacy') {
    next += 1;
    legacy = true;
    uid = Number(BigInt.asUintN(32, cStrtoul(argv[next] ?? '', 0).value));
    next += 1;
  }
  const verb = argv[next];
  if (verb !== 'add' && verb !== 'remove') return [replies.syntaxError('Unknown argument')];
  next += 1;
  if (argc < next + 3 || argc > next + 4)
    return [replies.syntaxError('Incorrect number of arguments')];
  const netId = stringToNetId(argv[next] as string);
  const iface = argv[next + 1] as string;
  const destination = argv[next + 2] as string;
  const nexthop = argv[next + 3];
  const options = { legacy, uid };
  if (verb === 'add') {
    return runOperation('addRoute()', () =>
      ctx.networks.addRoute(netId, iface, destination, nexthop, options),
    );
  }
  return runOperation('removeRoute()', () =>
    ctx.networks.removeRoute(netId, iface, destination, nexthop, options),
  );
}

async function iface(ctx: CommandContext, argv: readonly string[]): Promise<Reply[]> {
  if (argv.length !== 5) return [replies.syntaxError('Missing argument')];
  const netId = stringToNetId(argv[3] as string);
  const name = argv[4] as string;
  if (argv[2] === 'add') {
    return runOperation('addInterfaceToNetwork()', () =>
      ctx.networks.addInterfaceToNetwork(netId, name),
    );
  }
  if (argv[2] === 'remove') {
    return runOperation('removeInterfaceFromNetwork()', () =>
      ctx.networks.removeInterfaceFromNetwork(netId, name),
    );
  }
  return [replies.syntaxError('Unknown argument')];
}

async function create(ctx: CommandContext, argv: readonly string[]): Promise<Reply[]> {
  const argc = argv.length;
  if (argc < 3) return [replies.syntaxError('Missing argument')];
  const netId = stringToNetId(argv[2] as string);
  if (argc === 6 && argv[3] === 'vpn') {
    return runOperation('createVirtualNetwork()', () => ctx.networks.createVirtualNetwork(netId));
  }
  if (argc > 4) return [replies.syntaxError('Unknown trailing argument(s)')];
  let chosen: Permission = 'NONE';
  if (argc === 4) {
    const parsed = stringToPermission(argv[3] as string);
    if (parsed === undefined) return [replies.syntaxError('Unknown permission')];
    chosen = parsed;
  }
  return runOperation('createPhysicalNetwork()', () =>
    ctx.networks.createPhysicalNetwork(netId, chosen),
  );
}

async function destroy(ctx: CommandContext, argv: readonly string[]): Promise<Reply[]> {
  if (argv.length !== 3) return [replies.syntaxError('Incorrect number of arguments')];
  const netId = stringToNetId(argv[2] as string);
  return runOperation('destroyNetwork()', () => ctx.networks.destroyNetwork(netId));
}

/**
 * Handles `network …` (argv[0] is `network`).
 *
 * @example
 * ```ts
 * await networkCommand(ctx, ['network', 'create', 'oem1']); // [{ code: 200, message: 'success' }]
 * ```
 */
export async function networkCommand(
  ctx: CommandContext,
  argv: readonly string[],
): Promise<Reply[]> {
  if (argv.length < 2) return [replies.syntaxError('Missing argument')];
  switch (argv[1]) {
    case 'route':
      return route(ctx, argv);
    case 'interface':
      return iface(ctx, argv);
    case 'create':
      return create(ctx, argv);
    case 'destroy':
      return destroy(ctx, argv);
    default:
      return [replies.syntaxError('Unknown argument')];
  }
}
