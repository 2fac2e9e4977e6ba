/**
 * The netd core without a socket: the controllers, start-up (recovery of a dead predecessor,
 * coexistence checks, base rules; the host's rules and sysctls untouched) and clean shutdown
 * (everything installed is removed, changed sysctls restored).
 * Commands run one at a time, in arrival order, across all clients.
 */

import { SerialQueue } from '../sys/serial_queue.ts';
import type { CommandContext } from './commands/command_context.ts';
import { dispatchCommand } from './commands/command_table.ts';
import type { LinuxNet } from './linux_net.ts';
import { NetworkController } from './network_controller.ts';
import type { Reply } from './protocol/response.ts';
import { RouteController } from './route_controller.ts';
import type { StateFile } from './state_file.ts';
import { TetherController } from './tether_controller.ts';

/**
 * netd's command processor.
 *
 * @example
 * ```ts
 * const netd = await Netd.start(new MemoryLinuxNet({ interfaces: ['oem0'] }));
 * await netd.execute(['network', 'create', 'oem1']); // [{ code: 200, message: 'success' }]
 * await netd.shutdown();
 * ```
 */
export class Netd {
  readonly #context: CommandContext;
  readonly #queue = new SerialQueue();
  #commandCount = 0;
  #stopped = false;
  readonly #stateFile: StateFile | undefined;

  private constructor(context: CommandContext, stateFile: StateFile | undefined) {
    this.#context = context;
    this.#stateFile = stateFile;
  }

  /**
   * Installs the start-up state on `net` and returns a ready processor.
   *
   * @param net the Linux access.
   * @param options `stateFile`: crash-recovery state (see `state_file.ts`); without it a
   *   SIGKILLed daemon's changes cannot be undone by its successor. `log`: receives recovery
   *   problems that do not stop the start.
   * @throws {StartRefusedError} when starting would break host state (nothing is left changed).
   */
  static async start(
    net: LinuxNet,
    options: { stateFile?: StateFile; log?: (line: string) => void } = {},
  ): Promise<Netd> {
    const routes = new RouteController(net, options.stateFile);
    const tether = new TetherController(net, options.stateFile);
    const networks = new NetworkController(routes);
    const netd = new Netd({ routes, tether, networks }, options.stateFile);
    try {
      // Sysctls a dead predecessor changed come back first, then its rules and routes go.
      for (const problem of await tether.init()) options.log?.(`recovery: ${problem}`);
      await routes.init();
    } catch (error: unknown) {
      await netd.shutdown();
      throw error;
    }
    return netd;
  }

  /** The controllers (for inspection and tests). */
  get context(): CommandContext {
    return this.#context;
  }

  /** Number of commands executed so far (tokenized requests that reached the command table). */
  get commandCount(): number {
    return this.#commandCount;
  }

  /** Runs one command after every command submitted before it. */
  execute(argv: readonly string[]): Promise<Reply[]> {
    const run = async (): Promise<Reply[]> => {
      this.#commandCount += 1;
      if (this.#stopped) return [{ code: 400, message: 'netd is shutting down' }];
      return dispatchCommand(this.#context, argv);
    };
    return this.#queue.run(run);
  }

  /**
   * Waits for queued commands, then removes networks, rules, routes, marks and chains and
   * restores rules and sysctls. Idempotent.
   *
   * @returns one message per clean-up step that failed (empty when all went well)
   */
  async shutdown(): Promise<string[]> {
    const done = this.#queue.idle();
    this.#stopped = true;
    await done;
    const problems = [
      ...(await this.#context.networks.shutdown()),
      ...(await this.#context.routes.shutdown()),
      ...(await this.#context.tether.shutdown()),
    ];
    // Clean shutdown: everything recorded was undone (or reported), nothing left to recover.
    // A start that failed before recovery finished keeps the file for the next attempt.
    if (this.#context.routes.ownsStateFile) this.#stateFile?.remove();
    return problems;
  }
}
