/**
 * Runs an oracle tool (scapy's Python, tshark) without a shell and returns its standard output;
 * a tool that is not installed, fails or times out rejects with an error that says which and how
 * to install the test dependencies.
 */
import { execFile } from 'node:child_process';

export interface RunOracleOptions {
  /** The whole environment of the tool. */
  readonly env: NodeJS.ProcessEnv;
  /** Milliseconds before the tool is killed. */
  readonly timeoutMs: number;
  /** Largest standard output accepted, in bytes. */
  readonly maxBuffer: number;
  /** Written to the tool's standard input, which is then closed. */
  readonly stdin?: string;
  /** Names the tool in the error when it ran but failed. */
  readonly what: string;
}

/** Runs `file` with `args` and resolves with its standard output. */
export function runOracle(
  file: string,
  args: readonly string[],
  options: RunOracleOptions,
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { env: options.env, timeout: options.timeoutMs, maxBuffer: options.maxBuffer },
      (error, out, err) => {
        if (error !== null) {
          const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
          reject(
            new Error(
              missing
                ? `Cannot run ${file}: not installed (run scripts/ensure-test-deps.sh as root)`
                : `Cannot run ${options.what}: ${error.message}\n${err}`,
              { cause: error },
            ),
          );
          return;
        }
        resolve(out);
      },
    );
    if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  });
}
