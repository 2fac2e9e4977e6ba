/**
 * Runs the real tool as AOSP's wrapper does with `execv`: argv[0] is the tool's path, the arguments
 * are passed untouched, stdio and environment are inherited, and no shell is involved
 * (`spawn` with an argv array). AOSP `execv`s; Node cannot, so the wrapper stays as the parent,
 * forwards SIGTERM, SIGINT and SIGHUP to the tool while it runs, and exits with the tool's
 * status, or 128 + the signal number when the tool was killed by a signal.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** Signals the wrapper passes on to the running tool. */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** Options of {@link runTool}. */
export interface RunToolOptions {
  /** A descriptor of the checked tool (`openTrustedTool`): execute it instead of `path`. */
  readonly execFd?: number;
}

/** How the tool ended. */
export type ToolOutcome =
  | { readonly kind: 'exited'; readonly code: number }
  | { readonly kind: 'signaled'; readonly signal: NodeJS.Signals }
  | { readonly kind: 'failed-to-start'; readonly error: Error };

/**
 * Starts `path` with `args`, inheriting stdio and environment, and resolves when it ends.
 * The promise settles exactly once and never rejects.
 *
 * @param path absolute path of the tool; also its argv[0].
 * @param args argv[1..].
 * @example
 * ```ts
 * const outcome = await runTool('/usr/sbin/ip', ['xfrm', 'state']);
 * process.exitCode = exitStatusOf(outcome);
 * ```
 */
export function runTool(
  path: string,
  args: readonly string[],
  options: RunToolOptions = {},
): Promise<ToolOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    const finish = (outcome: ToolOutcome): void => {
      if (settled) return;
      settled = true;
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      resolve(outcome);
    };
    const child =
      options.execFd === undefined
        ? spawn(path, args, { stdio: 'inherit', argv0: path })
        : // The checked file itself, by descriptor: handed down as fd 3 and executed through
          // /proc, so no path lookup happens between the trust check and the exec.
          spawn('/proc/self/fd/3', args, {
            stdio: ['inherit', 'inherit', 'inherit', options.execFd],
            argv0: path,
          });
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    child.once('error', (error) => finish({ kind: 'failed-to-start', error }));
    child.once('exit', (code, signal) => {
      if (signal !== null) finish({ kind: 'signaled', signal });
      else finish({ kind: 'exited', code: code ?? 1 });
    });
  });
}

/**
 * The wrapper's exit status for an outcome: the tool's code, 128 + signal number, or 1 when
 * the tool could not be started.
 *
 * @example
 * ```ts
 * exitStatusOf({ kind: 'signaled', signal: 'SIGKILL' }); // 137
 * ```
 */
export function exitStatusOf(outcome: ToolOutcome): number {
  switch (outcome.kind) {
    case 'exited':
      return outcome.code;
    case 'signaled':
      return 128 + (constants.signals[outcome.signal] ?? 0);
    case 'failed-to-start':
      return 1;
  }
}
