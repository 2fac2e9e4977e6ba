/**
 * The netutils wrapper program (AOSP's `netutils-wrapper-1.0`), as a function the CLI calls:
 *
 * 1. dispatch on the basename of the invoked path (argv[1] for Node) — `dispatch.ts`;
 *    no tool selected → `explain` if asked, else exit 1 having run nothing;
 * 2. load the configuration (missing default file = defaults; anything malformed = exit 1)
 *    and pick the tool directory — `config.ts` (imported lazily), `tool_dir.ts`;
 * 3. rewrite argv[0] to `<tool dir>/<tool>` and check it — `check.ts`;
 * 4. refused → one stderr line `NetUtilsWrapper: Unexpected command: <joined argv>`, one
 *    syslog line, exit 1; allowed → run the tool and exit with its status — `run.ts`.
 *
 * Without `CAP_NET_ADMIN` (an ordinary user) the wrapper runs nothing itself: it sends the
 * tool name and argv to tsnetd, which decides with its own configuration and runs the tool
 * (`remote_wrapper.ts`). Elevated (setuid, setgid, capabilities) it ignores its environment.
 *
 * Deliberate differences from AOSP: no iptables→ip fallback after a refusal (AOSP's loop
 * re-checks a refused iptables command as `ip`); arguments that are empty or hold
 * whitespace/control characters are refused; the tool directory is configurable; a tool that cannot
 * be started is reported on stderr. The start-up path imports only what a wrapped call needs, to
 * keep process start-up cheap.
 */
import { closeSync, existsSync, writeSync } from 'node:fs';
import { checkCommand, MAX_COMMAND_LENGTH, printableCommand } from './check.ts';
import { invocationBasename, selectTool, toolArgv, type WrappedTool } from './dispatch.ts';
import { InvalidConfigError, InvalidToolDirError, UntrustedToolError } from './errors.ts';
import { hasNetAdmin, isElevated } from './privilege.ts';
import { exitStatusOf, runTool } from './run.ts';
import { DEFAULT_CONFIG_PATH, NetutilsPolicy, type ToolSettings } from './settings.ts';
import { logToSyslog } from './syslog.ts';
import { assertTrustedTool, openTrustedTool } from './tool_dir.ts';

export { DEFAULT_CONFIG_PATH } from './settings.ts';

/** The prefix of every line the wrapper writes to stderr (AOSP's `LOG_TAG`). */
export const STDERR_PREFIX = 'NetUtilsWrapper: ';

/**
 * What `netutils-wrapper-1.0 --help` prints on stdout. Only under the program's own name: under a
 * tool's name `--help` is an argument of the tool and goes through the allow-list check.
 */
export const WRAPPER_USAGE = `Usage: netutils-wrapper-1.0 explain <ip|iptables|ip6tables|ndc|tc> [args...]
       ip-wrapper-1.0 | iptables-wrapper-1.0 | ip6tables-wrapper-1.0 | ndc-wrapper-1.0 | tc-wrapper-1.0 [args...]
Under a tool's name: runs the tool when Android's allow-list admits the command, else refuses it.
Under its own name it runs nothing: \`explain\` shows which rule came closest, and why not.
Without CAP_NET_ADMIN the command is sent to tsnetd (TSNETD_SOCKET, default /run/tsnetd/netd).
Environment (ignored when elevated): NETUTILS_BIN_DIR (tool directory), NETUTILS_CONFIG
(default ${DEFAULT_CONFIG_PATH}), NETUTILS_LOG_SOCKET (syslog socket).
Exit codes: the tool's status or 128+signal; 1 refused or misconfigured; explain: 0 allowed,
1 refused, 2 usage.`;

/** Options of {@link runWrapper}. */
export interface WrapperOptions {
  /** `process.argv`: [node, invoked path, ...arguments]. */
  readonly argv: readonly string[];
  /**
   * Environment: `NETUTILS_BIN_DIR`, `NETUTILS_CONFIG`, `NETUTILS_LOG_SOCKET` (local runs, not
   * when elevated) and `TSNETD_SOCKET` (runs through the daemon) are read. A local tool
   * inherits the process environment.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
}

function writeStderr(line: string): void {
  try {
    writeSync(2, `${STDERR_PREFIX}${line}\n`);
  } catch {
    // stderr closed or unwritable: the exit status still carries the verdict.
  }
}

/**
 * The environment the wrapper may listen to: all of it normally, none of the variables that
 * change the verdict or the tool when the process is elevated (setuid, setgid, file or
 * ambient capabilities), so nobody can widen a privileged wrapper through its environment.
 */
function trustedEnv(env: WrapperOptions['env']): WrapperOptions['env'] {
  if (!isElevated()) return env;
  const {
    NETUTILS_BIN_DIR: _bin,
    NETUTILS_CONFIG: _config,
    NETUTILS_LOG_SOCKET: _log,
    TSNETD_SOCKET: _socket,
    ...rest
  } = env;
  return rest;
}

async function loadSettings(tool: WrappedTool, env: WrapperOptions['env']): Promise<ToolSettings> {
  const explicit = env.NETUTILS_CONFIG;
  if (explicit === '') throw new InvalidConfigError(explicit, 'NETUTILS_CONFIG is empty');
  const policy = await NetutilsPolicy.load({
    configPath: explicit ?? DEFAULT_CONFIG_PATH,
    explicit: explicit !== undefined,
    ...(env.NETUTILS_BIN_DIR === undefined ? {} : { binDir: env.NETUTILS_BIN_DIR }),
  });
  return policy.settingsFor(tool);
}

async function explain(options: WrapperOptions): Promise<number> {
  const target = options.argv[3];
  const tool = target === undefined ? undefined : selectTool(invocationBasename(target));
  if (tool === undefined) {
    writeStderr('Usage: netutils-wrapper-1.0 explain <ip|iptables|ip6tables|ndc|tc> [args...]');
    return 2;
  }
  const settings = await loadSettings(tool, trustedEnv(options.env));
  const { explainCommand, formatExplanation } = await import('./explain.ts');
  const argv = toolArgv(settings.toolDir, tool, options.argv.slice(4));
  const explanation = explainCommand(settings.ruleSet, argv, { verdicts: settings.verdicts });
  const header = `rule set: Android ${settings.ruleSet.release}, tool directory ${settings.toolDir}, ${settings.verdicts} verdicts\n`;
  process.stdout.write(header + formatExplanation(explanation));
  return explanation.allowed ? 0 : 1;
}

async function wrap(tool: WrappedTool, options: WrapperOptions): Promise<number> {
  if (!hasNetAdmin()) {
    const { wrapRemote } = await import('./remote_wrapper.ts');
    return wrapRemote(tool, options.argv.slice(2), trustedEnv(options.env), writeStderr);
  }
  const env = trustedEnv(options.env);
  const { toolDir, ruleSet, verdicts } = await loadSettings(tool, env);
  const argv = toolArgv(toolDir, tool, options.argv.slice(2));
  const verdict = checkCommand(ruleSet, argv, { verdicts });
  if (!verdict.allowed) {
    // An over-long command is shown truncated: one bounded line, and a logger argv that fits.
    const shown =
      verdict.reason === 'too-long'
        ? `${printableCommand(verdict.command.slice(0, MAX_COMMAND_LENGTH))}…`
        : printableCommand(verdict.command);
    writeStderr(`Unexpected command: ${shown}`);
    const socketPath = env.NETUTILS_LOG_SOCKET;
    logToSyslog(`Unexpected command: ${shown}`, socketPath === undefined ? {} : { socketPath });
    return 1;
  }
  // As root: check the tool and execute the checked file by descriptor (no swap in between).
  const asRoot = (process.geteuid?.() ?? -1) === 0;
  const opened = asRoot && existsSync(argv[0]!) ? openTrustedTool(argv[0]!) : undefined;
  if (opened === undefined) assertTrustedTool(argv[0]!);
  let outcome: Awaited<ReturnType<typeof runTool>>;
  try {
    outcome = await runTool(
      argv[0]!,
      argv.slice(1),
      opened === undefined || opened.script ? {} : { execFd: opened.fd },
    );
  } finally {
    if (opened !== undefined) closeSync(opened.fd);
  }
  if (outcome.kind === 'failed-to-start') {
    const code = (outcome.error as NodeJS.ErrnoException).code ?? outcome.error.message;
    writeStderr(`Cannot run ${JSON.stringify(argv[0])}: ${code}`);
  }
  return exitStatusOf(outcome);
}

/**
 * Runs the wrapper for one invocation and returns the exit status to use.
 *
 * @param options argv and environment of the process.
 * @returns 0..255: the tool's status, 128 + signal, or 1 (refused, misconfigured, not a tool
 *   name), 2 for an `explain` usage error; 0 for `--help` under the program's own name.
 * @example
 * ```ts
 * process.exitCode = await runWrapper({ argv: process.argv, env: process.env });
 * ```
 */
export async function runWrapper(options: WrapperOptions): Promise<number> {
  const tool = selectTool(invocationBasename(options.argv[1] ?? ''));
  try {
    if (tool === undefined) {
      const first = options.argv[2];
      if (first === '--help' || first === '-h') {
        process.stdout.write(`${WRAPPER_USAGE}\n`);
        return 0;
      }
      return first === 'explain' ? await explain(options) : 1;
    }
    return await wrap(tool, options);
  } catch (err: unknown) {
    if (
      err instanceof InvalidConfigError ||
      err instanceof InvalidToolDirError ||
      err instanceof UntrustedToolError
    ) {
      writeStderr(err.message);
      return 1;
    }
    throw err;
  }
}
