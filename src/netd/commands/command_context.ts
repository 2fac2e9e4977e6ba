/**
 * What command handlers get: the controllers, and the handler signature
 * (argv in, replies out; argv[0] is the command word).
 */
import type { NetworkController } from '../network_controller.ts';
import type { Reply } from '../protocol/response.ts';
import type { RouteController } from '../route_controller.ts';
import type { TetherController } from '../tether_controller.ts';

/** The controllers a command may use. */
export interface CommandContext {
  readonly networks: NetworkController;
  readonly routes: RouteController;
  readonly tether: TetherController;
}

/** A command family handler: `argv[0]` is its word (`network`, `ipfwd`). */
export type CommandHandler = (context: CommandContext, argv: readonly string[]) => Promise<Reply[]>;
