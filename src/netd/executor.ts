/**
 * Runs external programs with an argv array (never a shell) and reports exit code and output.
 * Programs are named by absolute path (no PATH lookup) and get the fixed environment
 * `NETD_TOOL_ENVIRONMENT`, nothing inherited. netd's own commands do not spawn per operation (see
 * `kernel_linux_net.ts`); this runner is for one-off tools.
 */
import { execFile } from 'node:child_process';
import { isAbsolute } from 'node:path';
import { NETD_TOOL_ENVIRONMENT } from './iptables_restore.ts';

/** Outcome of one program run. A non-zero exit is a result, not an exception. */
export interface ExecResult {
  /** Exit status; 127 when the program could not be started. */
  readonly exitCode: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Options of {@link Executor.run}. */
export interface ExecOptions {
  /** Bytes written to the program's stdin (then closed). */
  readonly input?: Uint8Array;
}

/** Runs a program. Implementations settle exactly once and never throw for a non-zero exit. */
export interface Executor {
  run(file: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult>;
}

/** Output limit per run; netd's tools print little (a rule dump is a few KiB). */
const MAX_OUTPUT_LENGTH = 16 * 1024 * 1024;
/** A tool that hangs longer than this is killed (iptables waits for its lock with `-w`). */
const EXEC_TIMEOUT_MS = 30_000;

/**
 * The real executor: `child_process.execFile` with an argv array.
 *
 * @example
 * ```ts
 * const r = await execFileExecutor.run('/usr/sbin/ip', ['-o', 'link', 'show', 'dev', 'lo']);
 * r.exitCode; // 0
 * ```
 */
export const execFileExecutor: Executor = {
  run(file, args, options) {
    if (!isAbsolute(file)) {
      return Promise.resolve({
        exitCode: 127,
        stdout: Buffer.alloc(0),
        stderr: `Cannot run "${file}": not an absolute path (PATH is never searched)`,
      });
    }
    return new Promise((resolve) => {
      const child = execFile(
        file,
        [...args],
        {
          encoding: 'buffer',
          maxBuffer: MAX_OUTPUT_LENGTH,
          timeout: EXEC_TIMEOUT_MS,
          env: { ...NETD_TOOL_ENVIRONMENT },
        },
        (error, stdout, stderr) => {
          let exitCode = 0;
          if (error !== null) {
            const code: unknown = (error as NodeJS.ErrnoException & { code?: unknown }).code;
            exitCode = typeof code === 'number' ? code : 127;
          }
          const errText = stderr.toString('utf8');
          resolve({
            exitCode,
            stdout,
            stderr: error !== null && errText === '' ? error.message : errText,
          });
        },
      );
      child.stdin?.on('error', () => {
        // The program may exit without reading its input; its exit status tells the story.
      });
      child.stdin?.end(options?.input);
    });
  },
};
