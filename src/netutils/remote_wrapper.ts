/**
 * The wrapper without `CAP_NET_ADMIN`: the command goes to tsnetd over the netd socket
 * (`remote.ts`), which authorises the caller, checks the command with its own configuration
 * and runs the tool; the tool's output and exit status come back. Printed lines:
 *
 * - refused: `NetUtilsWrapper: Unexpected command: …` (from the daemon), status 1;
 * - not authorised: `NetUtilsWrapper: Permission denied: …`, status 1 — also when the socket
 *   itself refuses the connection (EACCES: not in the socket's group);
 * - daemon unreachable: `NetUtilsWrapper: Cannot reach tsnetd at <path>: <errno>`, status 1.
 *
 * `ndc` commands are sent as plain netd requests (the daemon is ndc's server itself); their
 * reply lines are printed like `ndc` does.
 */
import type { WrappedTool } from './dispatch.ts';
import {
  DEFAULT_DAEMON_SOCKET,
  MAX_REMOTE_ARGUMENT_BYTES,
  quoteWord,
  type RemoteOutcome,
  remoteRunRequests,
  runRemote,
} from './remote.ts';

function write(stream: 1 | 2, data: Buffer, resume: () => void): boolean {
  const target = stream === 1 ? process.stdout : process.stderr;
  const ok = target.write(data);
  if (!ok) target.once('drain', resume);
  return ok;
}

function flush(): Promise<void> {
  return new Promise((resolve) => {
    let pending = 2;
    const done = (): void => {
      pending -= 1;
      if (pending === 0) resolve();
    };
    process.stdout.write('', done);
    process.stderr.write('', done);
  });
}

/**
 * Runs `tool args` through the daemon and returns the exit status.
 *
 * @param tool the selected tool.
 * @param args the caller's arguments (argv[2..]).
 * @param env the (trusted part of the) environment: `TSNETD_SOCKET`.
 * @param writeStderr prints one prefixed stderr line.
 */
export async function wrapRemote(
  tool: WrappedTool,
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  writeStderr: (line: string) => void,
): Promise<number> {
  const socketPath = env.TSNETD_SOCKET || DEFAULT_DAEMON_SOCKET;
  const requests = tool === 'ndc' ? [] : remoteRunRequests(tool, args);
  const tooLong = args.findIndex((a) => Buffer.byteLength(a) > MAX_REMOTE_ARGUMENT_BYTES);
  if (tooLong !== -1 || requests === undefined) {
    const shown = [tool, ...args].join(' ').slice(0, 4096);
    writeStderr(`Unexpected command: ${JSON.stringify(shown).slice(1, -1)}…`);
    return 1;
  }
  let outcome: RemoteOutcome;
  if (tool === 'ndc') {
    if (args.length === 0) {
      writeStderr(`Unexpected command: ${tool}`);
      return 1;
    }
    outcome = await runRemote({
      socketPath,
      requests: [['0', ...args.map(quoteWord)].join(' ')],
      onLine: (line) => process.stdout.write(`${line}\n`),
    });
  } else {
    outcome = await runRemote({
      socketPath,
      requests,
      onOutput: write,
      forwardSignals: true,
    });
  }
  await flush();
  switch (outcome.kind) {
    case 'status':
      return outcome.status;
    case 'refused':
      writeStderr(outcome.message);
      return 1;
    case 'unreachable':
      if (outcome.errno === 'EACCES' || outcome.errno === 'EPERM') {
        writeStderr(
          `Permission denied: cannot connect to tsnetd at ${socketPath} (${outcome.errno}); the caller must be root or in tsnetd's netutils group`,
        );
      } else {
        writeStderr(`Cannot reach tsnetd at ${socketPath}: ${outcome.errno}`);
      }
      return 1;
    case 'lost':
      writeStderr(`Lost the connection to tsnetd at ${socketPath}`);
      return 1;
  }
}
