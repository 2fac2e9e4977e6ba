#!/usr/bin/env node
/**
 * ndc: sends one command to netd and prints every reply line (netd's FrameworkListener protocol).
 *
 * Usage: ndc [--socket PATH] [<seq>] <cmd> [args…]; `ndc --help` prints the usage on stdout
 * (exit 0), `ndc` without a command prints it on stderr (exit 1, as AOSP's ndc).
 * Exit codes: 0 when a final reply (200..599) arrived, whatever its code; 1 usage error;
 * 4 daemon unreachable (`Error connecting (<strerror>)`); 104 (ECONNRESET) when the daemon
 * closed the connection before a final reply.
 */
// First: no inspector on SIGUSR1, no NODE_OPTIONS as root (see process_guard.ts).
import './process_guard.ts';
import {
  DEFAULT_SOCKET_PATH,
  ERRNO_TABLE,
  NdcConnectionError,
  sendCommand,
  strerror,
} from '../netd/mod.ts';

const USAGE = `Usage: ndc [--socket PATH] [<cmd_seq_num>] <cmd> [arg ...]
  --socket PATH  netd socket (default ${DEFAULT_SOCKET_PATH})`;

/** `'help'` for `--help`/`-h` before the command, `undefined` for a usage error. */
function parse(
  argv: readonly string[],
): { socketPath: string; words: string[] } | 'help' | undefined {
  let socketPath = DEFAULT_SOCKET_PATH;
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i] as string;
    if (arg === '--') {
      i += 1;
      break;
    }
    if (arg === '--socket') {
      const value = argv[i + 1];
      if (value === undefined) return undefined;
      socketPath = value;
      i += 2;
    } else if (arg.startsWith('--socket=')) {
      socketPath = arg.slice('--socket='.length);
      i += 1;
    } else if (arg === '--help' || arg === '-h') {
      return 'help';
    } else {
      break;
    }
  }
  const words = argv.slice(i);
  return words.length === 0 ? undefined : { socketPath, words };
}

async function main(): Promise<number> {
  const parsed = parse(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (parsed === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 1;
  }
  try {
    await sendCommand(parsed.socketPath, parsed.words, {
      onLine: (line) => process.stdout.write(`${line}\n`),
    });
    return 0;
  } catch (error: unknown) {
    if (error instanceof NdcConnectionError) {
      if (error.stage === 'connect') {
        process.stderr.write(
          `Error connecting (${error.errno === undefined ? 'Unknown error' : strerror(error.errno)})\n`,
        );
        return 4;
      }
      process.stderr.write('Lost connection to Netd - did it crash?\n');
      return ERRNO_TABLE.ECONNRESET.errno;
    }
    throw error;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ndc: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
