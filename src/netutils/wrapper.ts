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
 * Deliberate differences from AOSP: no iptables→ip fallback after a refusal (AOSP's loop
 * re-checks a refused iptables command as `ip`); arguments that are empty or hold
 * whitespace/control characters are refused; the tool directory is configurable; a tool that cannot
 * be started is reported on stderr. The start-up path imports only what a wrapped call needs, to
 * keep process start-up cheap.
 */
import { readFileSync, writeSync } from 'node:fs';
import { checkCommand, MAX_COMMAND_LENGTH, printableCommand } from './check.ts';
import { invocationBasename, selectTool, toolArgv, type WrappedTool } from './dispatch.ts';
import { InvalidConfigError, InvalidToolDirError, UntrustedToolError } from './errors.ts';
import { DEFAULT_RELEASE, type NetutilsRelease } from './patterns.ts';
import { DEFAULT_RULE_SET, RuleSet } from './rule_set.ts';
import { exitStatusOf, runTool } from './run.ts';
import { logToSyslog } from './syslog.ts';
import { assertTrustedTool, DEFAULT_TOOL_DIRS, findToolDir, validateToolDir } from './tool_dir.ts';

/** Where the wrapper looks for its configuration when `NETUTILS_CONFIG` is not set. */
export const DEFAULT_CONFIG_PATH = '/etc/tsnetd/netutils.json';

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
Environment: NETUTILS_BIN_DIR (tool directory), NETUTILS_CONFIG (default ${DEFAULT_CONFIG_PATH}),
NETUTILS_LOG_SOCKET (syslog socket).
Exit codes: the tool's status or 128+signal; 1 refused or misconfigured; explain: 0 allowed,
1 refused, 2 usage.`;

/** Options of {@link runWrapper}. */
export interface WrapperOptions {
  /** `process.argv`: [node, invoked path, ...arguments]. */
  readonly argv: readonly string[];
  /**
   * Environment: `NETUTILS_BIN_DIR`, `NETUTILS_CONFIG`, `NETUTILS_LOG_SOCKET` are read.
   * The tool itself inherits the process environment.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
}

interface Settings {
  readonly ruleSet: RuleSet;
  readonly toolDir: string;
}

function writeStderr(line: string): void {
  try {
    writeSync(2, `${STDERR_PREFIX}${line}\n`);
  } catch {
    // stderr closed or unwritable: the exit status still carries the verdict.
  }
}

function readConfigText(env: WrapperOptions['env']): { text: string; path: string } | undefined {
  const explicit = env.NETUTILS_CONFIG;
  const path = explicit ?? DEFAULT_CONFIG_PATH;
  if (path === '') throw new InvalidConfigError(path, 'NETUTILS_CONFIG is empty');
  try {
    return { text: readFileSync(path, 'utf8'), path };
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    // Only the default file may be absent; a path someone named must exist.
    if (code === 'ENOENT' && explicit === undefined) return undefined;
    throw new InvalidConfigError(path, `cannot read it (${code ?? String(err)})`, { cause: err });
  }
}

async function loadSettings(tool: WrappedTool, env: WrapperOptions['env']): Promise<Settings> {
  const file = readConfigText(env);
  let release: NetutilsRelease = DEFAULT_RELEASE;
  let configDir: string | undefined;
  let vendorInterfacePatterns: readonly string[] = [];
  let vendorChainPatterns: readonly string[] = [];
  if (file !== undefined) {
    const { parseNetutilsConfig } = await import('./config.ts');
    const config = parseNetutilsConfig(file.text, file.path);
    release = config.release;
    configDir = config.binDir;
    vendorInterfacePatterns = config.vendorInterfacePatterns;
    vendorChainPatterns = config.vendorChainPatterns;
  }
  const envDir = env.NETUTILS_BIN_DIR;
  const toolDir =
    envDir !== undefined
      ? validateToolDir(envDir, 'NETUTILS_BIN_DIR')
      : (configDir ?? findToolDir(tool) ?? DEFAULT_TOOL_DIRS[0]!);
  const isDefault =
    release === DEFAULT_RELEASE &&
    toolDir === DEFAULT_RULE_SET.toolDir &&
    vendorInterfacePatterns.length === 0 &&
    vendorChainPatterns.length === 0;
  const ruleSet = isDefault
    ? DEFAULT_RULE_SET
    : RuleSet.build({ release, toolDir, vendorInterfacePatterns, vendorChainPatterns });
  return { ruleSet, toolDir };
}

async function explain(options: WrapperOptions): Promise<number> {
  const target = options.argv[3];
  const tool = target === undefined ? undefined : selectTool(invocationBasename(target));
  if (tool === undefined) {
    writeStderr('Usage: netutils-wrapper-1.0 explain <ip|iptables|ip6tables|ndc|tc> [args...]');
    return 2;
  }
  const settings = await loadSettings(tool, options.env);
  const { explainCommand, formatExplanation } = await import('./explain.ts');
  const argv = toolArgv(settings.toolDir, tool, options.argv.slice(4));
  const explanation = explainCommand(settings.ruleSet, argv);
  const header = `rule set: Android ${settings.ruleSet.release}, tool directory ${settings.toolDir}\n`;
  process.stdout.write(header + formatExplanation(explanation));
  return explanation.allowed ? 0 : 1;
}

async function wrap(tool: WrappedTool, options: WrapperOptions): Promise<number> {
  const { toolDir, ruleSet } = await loadSettings(tool, options.env);
  const argv = toolArgv(toolDir, tool, options.argv.slice(2));
  const verdict = checkCommand(ruleSet, argv);
  if (!verdict.allowed) {
    // An over-long command is shown truncated: one bounded line, and a logger argv that fits.
    const shown =
      verdict.reason === 'too-long'
        ? `${printableCommand(verdict.command.slice(0, MAX_COMMAND_LENGTH))}…`
        : printableCommand(verdict.command);
    writeStderr(`Unexpected command: ${shown}`);
    const socketPath = options.env.NETUTILS_LOG_SOCKET;
    logToSyslog(`Unexpected command: ${shown}`, socketPath === undefined ? {} : { socketPath });
    return 1;
  }
  assertTrustedTool(argv[0]!);
  const outcome = await runTool(argv[0]!, argv.slice(1));
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
