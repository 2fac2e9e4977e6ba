/**
 * The daemon's side of the netutils wrapper: who may ask, what is admitted, and running the
 * tool for the caller.
 *
 * - **Who**: the kernel's peer credentials of the connection. Root may do everything; a
 *   process whose primary or supplementary groups include the configured netutils group is a
 *   *member* and is held to the wrapper's rules on every request (its plain netd commands are
 *   checked as `ndc` commands); anybody else is refused (`502 … Permission denied`).
 * - **What**: the daemon's own configuration (`--netutils-config`, default
 *   `/etc/tsnetd/netutils.json`) and tool directory; nothing of the caller's environment.
 * - **Running**: by descriptor of the checked file (`/proc/self/fd/3`, see
 *   `openTrustedTool`), argv[0] the tool path, a fixed environment, no shell, stdin
 *   `/dev/null`, in its own process group. stdout and stderr are streamed back as they come
 *   (`120`/`121` lines, base64), with backpressure: when the client does not read, the pipes
 *   are paused and the tool blocks. The end of the connection kills the whole process group;
 *   `netutils signal TERM|INT|HUP` is passed on to it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync } from 'node:fs';
import { constants } from 'node:os';
import {
  checkCommand,
  MAX_ARGUMENTS,
  MAX_COMMAND_LENGTH,
  NETUTILS_REPLY,
  type NetutilsPolicy,
  openTrustedTool,
  printableCommand,
  toolArgv,
  UntrustedToolError,
  type WrappedTool,
} from '../netutils/mod.ts';
import type { Reply } from './protocol/response.ts';

/** The caller as the kernel reports it. */
export interface PeerIdentity {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups. */
  readonly groups: readonly number[];
}

/** What a connection may do. */
export type AccessRole = 'root' | 'member' | 'denied';

/** The fixed environment of every tool the daemon runs. */
export const TOOL_ENVIRONMENT: Readonly<Record<string, string>> = {
  PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
};

/** Tools the `netutils run` verb runs (ndc is the daemon itself). */
const RUNNABLE_TOOLS: readonly WrappedTool[] = ['ip', 'iptables', 'ip6tables', 'tc'];
/** Longest base64 payload per output line (raw bytes: 3/4 of it). */
const OUTPUT_CHUNK_BYTES = 48 * 1024;
const SIGNALS: Readonly<Record<string, NodeJS.Signals>> = {
  TERM: 'SIGTERM',
  INT: 'SIGINT',
  HUP: 'SIGHUP',
};

/** What the server gives a running `netutils run` command. */
export interface RunChannel {
  /** Sends one non-final reply; resolves when the client can take more. */
  send(reply: Reply): Promise<void>;
  /** Aborted when the client's connection ends. */
  readonly ended: AbortSignal;
  /** Installs (or removes with `undefined`) the receiver of requests that arrive while running. */
  onControl(handler: ((argv: readonly string[]) => void) | undefined): void;
}

/** Per-connection state of the `netutils` verb. */
export class NetutilsConnection {
  readonly args: string[] = [];
  length = 0;
  overflow = false;
  /** A request on the connection could not be parsed: the command being built is incomplete. */
  broken = false;
}

/** Options of {@link NetutilsService}. */
export interface NetutilsServiceOptions {
  /** The daemon's configuration. */
  readonly policy: NetutilsPolicy;
  /** The netutils group (members are held to the rules); none: only root is served. */
  readonly groupId?: number;
}

/**
 * Authorisation and execution for wrapper requests.
 *
 * @example
 * ```ts
 * const service = new NetutilsService({ policy: await NetutilsPolicy.load(), groupId: 1234 });
 * service.roleOf({ pid: 1, uid: 1000, gid: 1000, groups: [1234] }); // 'member'
 * ```
 */
export class NetutilsService {
  readonly #policy: NetutilsPolicy;
  readonly #groupId: number | undefined;

  constructor(options: NetutilsServiceOptions) {
    this.#policy = options.policy;
    this.#groupId = options.groupId;
  }

  /** The netutils group, if configured. */
  get groupId(): number | undefined {
    return this.#groupId;
  }

  /** The role of a peer: root, member of the netutils group, or nobody. */
  roleOf(peer: PeerIdentity | undefined): AccessRole {
    if (peer === undefined) return 'denied';
    if (peer.uid === 0) return 'root';
    const gid = this.#groupId;
    if (gid !== undefined && (peer.gid === gid || peer.groups.includes(gid))) return 'member';
    return 'denied';
  }

  /** The `502` reply for a peer that may not use the daemon. */
  permissionDenied(peer: PeerIdentity | undefined): Reply {
    const who = peer === undefined ? 'an unidentified peer' : `uid ${peer.uid}`;
    const group =
      this.#groupId === undefined
        ? 'tsnetd serves only root (no --netutils-group)'
        : `not in tsnetd's netutils group (gid ${this.#groupId})`;
    return {
      code: NETUTILS_REPLY.permissionDenied,
      message: `Permission denied: ${who} is not root and ${group}`,
    };
  }

  /**
   * Checks a plain netd command of a member as `ndc <argv>`.
   *
   * @returns the refusal reply, or `undefined` when the command is admitted.
   */
  checkNdc(argv: readonly string[]): Reply | undefined {
    const settings = this.#policy.settingsFor('ndc');
    const full = toolArgv(settings.toolDir, 'ndc', argv);
    const verdict = checkCommand(settings.ruleSet, full, { verdicts: settings.verdicts });
    return verdict.allowed ? undefined : refusal(verdict.command, verdict.reason === 'too-long');
  }

  /**
   * Handles one `netutils …` request (argv[0] = `netutils`).
   *
   * @returns the final reply, or an empty list for `arg` (no reply).
   */
  async handle(
    argv: readonly string[],
    state: NetutilsConnection,
    channel: RunChannel,
  ): Promise<Reply[]> {
    const sub = argv[1];
    if (sub === 'arg') {
      for (const raw of argv.slice(2)) {
        const arg = Buffer.from(raw, 'latin1').toString('utf8');
        state.length += arg.length + 1;
        if (state.args.length >= MAX_ARGUMENTS || state.length > MAX_COMMAND_LENGTH + 1)
          state.overflow = true;
        else state.args.push(arg);
      }
      return [];
    }
    if (sub === 'run') {
      const args = state.args.splice(0);
      const overflow = state.overflow;
      const broken = state.broken;
      state.length = 0;
      state.overflow = false;
      state.broken = false;
      if (broken) return [cannotRun('Cannot run: a request of this command was malformed')];
      const tool = argv[2] as WrappedTool;
      if (argv.length !== 3 || !RUNNABLE_TOOLS.includes(tool))
        return [cannotRun(`unknown tool ${JSON.stringify(argv[2] ?? '')}`)];
      return [await this.#run(tool, args, overflow, channel)];
    }
    if (sub === 'signal') return [cannotRun('no tool is running')];
    return [cannotRun(`unknown request ${JSON.stringify(sub ?? '')}`)];
  }

  async #run(
    tool: WrappedTool,
    args: readonly string[],
    overflow: boolean,
    channel: RunChannel,
  ): Promise<Reply> {
    const settings = this.#policy.settingsFor(tool);
    const argv = toolArgv(settings.toolDir, tool, args);
    if (overflow) return refusal(argv.join(' '), true);
    const verdict = checkCommand(settings.ruleSet, argv, { verdicts: settings.verdicts });
    if (!verdict.allowed) return refusal(verdict.command, verdict.reason === 'too-long');
    const path = argv[0]!;
    if (!existsSync(path)) return cannotRun(`Cannot run ${JSON.stringify(path)}: ENOENT`);
    let opened: ReturnType<typeof openTrustedTool>;
    try {
      opened = openTrustedTool(path);
    } catch (error: unknown) {
      if (error instanceof UntrustedToolError) return cannotRun(error.message);
      throw error;
    }
    if (channel.ended.aborted) {
      closeSync(opened.fd);
      return { code: NETUTILS_REPLY.exited, message: '1' };
    }
    let child: ChildProcess;
    try {
      child = spawn(opened.script ? path : '/proc/self/fd/3', args, {
        argv0: path,
        stdio: ['ignore', 'pipe', 'pipe', opened.fd],
        env: TOOL_ENVIRONMENT,
        detached: true,
        cwd: '/',
      });
    } finally {
      closeSync(opened.fd);
    }
    return superviseTool(child, path, channel);
  }
}

function refusal(command: string, tooLong: boolean): Reply {
  const shown = tooLong
    ? `${printableCommand(command.slice(0, MAX_COMMAND_LENGTH))}…`
    : printableCommand(command);
  return { code: NETUTILS_REPLY.refused, message: `Unexpected command: ${shown}` };
}

function cannotRun(message: string): Reply {
  return { code: NETUTILS_REPLY.cannotRun, message };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

function superviseTool(child: ChildProcess, path: string, channel: RunChannel): Promise<Reply> {
  return new Promise((resolve) => {
    let settled = false;
    let streamsOpen = 2;
    let exit: Reply | undefined;
    const finish = (): void => {
      if (settled || exit === undefined || streamsOpen > 0) return;
      settled = true;
      channel.onControl(undefined);
      channel.ended.removeEventListener('abort', onEnded);
      resolve(exit);
    };
    const onEnded = (): void => killGroup(child, 'SIGKILL');
    channel.ended.addEventListener('abort', onEnded);
    channel.onControl((argv) => {
      const signal =
        argv[0] === 'netutils' && argv[1] === 'signal' ? SIGNALS[argv[2] ?? ''] : undefined;
      if (signal !== undefined) killGroup(child, signal);
    });
    const pump = (stream: NodeJS.ReadableStream | null, code: number): void => {
      if (stream === null) {
        streamsOpen -= 1;
        return;
      }
      stream.on('data', (chunk: Buffer) => {
        const sends: Promise<void>[] = [];
        for (let off = 0; off < chunk.length; off += OUTPUT_CHUNK_BYTES) {
          const part = chunk.subarray(off, off + OUTPUT_CHUNK_BYTES);
          sends.push(channel.send({ code, message: part.toString('base64') }));
        }
        // Backpressure: the tool blocks on a full pipe until the client reads.
        stream.pause();
        void Promise.all(sends).then(() => stream.resume());
      });
      stream.once('close', () => {
        streamsOpen -= 1;
        finish();
      });
    };
    pump(child.stdout, NETUTILS_REPLY.stdout);
    pump(child.stderr, NETUTILS_REPLY.stderr);
    child.once('error', (error: NodeJS.ErrnoException) => {
      exit ??= cannotRun(`Cannot run ${JSON.stringify(path)}: ${error.code ?? error.message}`);
      streamsOpen = 0;
      finish();
    });
    child.once('exit', (code, signal) => {
      const status = signal !== null ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1);
      exit ??= { code: NETUTILS_REPLY.exited, message: String(status) };
      finish();
    });
    if (channel.ended.aborted) onEnded();
  });
}
