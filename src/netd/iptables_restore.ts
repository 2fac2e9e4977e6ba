/**
 * One long-lived `iptables-restore` (or `ip6tables-restore`) per address family, in the style of
 * Android's IptablesRestoreController: started once with `--noflush -w -v`, fed one transaction
 * per call (`*table`, the rule lines, `COMMIT`), each followed by a `#PING` comment line that the
 * tool echoes on stdout once everything before it was applied. A failed transaction makes the
 * tool exit: the call fails with EREMOTEIO (stderr in the message) and the next call starts a
 * fresh process. No shell: absolute program path, argv array, fixed minimal environment.
 *
 * Arguments are written in iptables-restore's quoting: anything outside a conservative safe set
 * is double-quoted with `\` and `"` escaped, so every interface name Linux accepts (`tun#1`,
 * `a"b`, `-x`) reaches iptables as one argument, byte for byte.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { ToolFailedError } from './errors.ts';

/** The environment every tool netd runs gets (nothing inherited). */
export const NETD_TOOL_ENVIRONMENT: Readonly<Record<string, string>> = Object.freeze({
  LC_ALL: 'C',
});
/** A transaction that takes longer than this kills the tool (it waits for the xtables lock). */
export const IPTABLES_RESTORE_TIMEOUT_MS = 30_000;
/** Most stderr kept per process (for the error message). */
const MAX_STDERR_LENGTH = 4096;
const PING = '#PING';

const SAFE_ARGUMENT_REGEXP = /^[A-Za-z0-9_.,/:=@%+-]+$/;

/**
 * One argument in iptables-restore syntax.
 *
 * @example
 * ```ts
 * restoreQuote('oem0'); // 'oem0'
 * restoreQuote('a"b'); // '"a\\"b"'
 * ```
 */
export function restoreQuote(arg: string): string {
  if (SAFE_ARGUMENT_REGEXP.test(arg)) return arg;
  return `"${arg.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/**
 * Turns `['-t', 'mangle', '-A', 'CHAIN', …]` (iptables argv) into a restore transaction.
 *
 * @example
 * ```ts
 * restoreTransaction(['-t', 'mangle', '-N', 'x']); // '*mangle\n-N x\nCOMMIT\n'
 * ```
 */
export function restoreTransaction(args: readonly string[]): string {
  let table = 'filter';
  const rest: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i] as string;
    if (a === '-t' && i + 1 < args.length) {
      table = args[i + 1] as string;
      i += 1;
    } else rest.push(a);
  }
  return `*${table}\n${rest.map(restoreQuote).join(' ')}\nCOMMIT\n`;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * A long-lived iptables-restore.
 *
 * @example
 * ```ts
 * const v4 = new IptablesRestore('/usr/sbin/iptables-restore');
 * await v4.apply(['-t', 'mangle', '-N', 'routectrl_mangle_INPUT']);
 * v4.close();
 * ```
 */
export class IptablesRestore {
  readonly #program: string;
  #child: ChildProcess | undefined;
  #stdout = '';
  #stderr = '';
  #waiter: Waiter | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Processes started so far (1 while nothing failed). */
  spawnCount = 0;

  constructor(program: string) {
    this.#program = program;
  }

  /** Applies one iptables command (argv as for `iptables`) as one transaction. */
  apply(args: readonly string[]): Promise<void> {
    const run = (): Promise<void> => this.#transact(args);
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #start(): ChildProcess {
    const child = spawn(this.#program, ['--noflush', '-w', '-v'], {
      env: { ...NETD_TOOL_ENVIRONMENT },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.spawnCount += 1;
    this.#stdout = '';
    this.#stderr = '';
    child.stdout?.setEncoding('latin1');
    child.stderr?.setEncoding('latin1');
    child.stdout?.on('data', (chunk: string) => {
      this.#stdout += chunk;
      let nl = this.#stdout.indexOf('\n');
      while (nl !== -1) {
        const line = this.#stdout.slice(0, nl);
        this.#stdout = this.#stdout.slice(nl + 1);
        if (line === PING) this.#settle(undefined);
        nl = this.#stdout.indexOf('\n');
      }
    });
    child.stderr?.on('data', (chunk: string) => {
      if (this.#stderr.length < MAX_STDERR_LENGTH) this.#stderr += chunk;
    });
    child.stdin?.on('error', () => {
      // EPIPE: the tool exited; the exit handler reports it.
    });
    const dead = (reason: string): void => {
      if (this.#child === child) this.#child = undefined;
      this.#settle(reason);
    };
    child.once('error', (error) => dead(error.message));
    child.once('exit', (code, signal) => dead(`exited with ${code ?? signal}`));
    this.#child = child;
    return child;
  }

  #settle(failure: string | undefined): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    if (failure === undefined) waiter.resolve();
    else {
      waiter.reject(
        new ToolFailedError(
          'EREMOTEIO',
          [this.#program, '--noflush', '-w', '-v'],
          `${this.#stderr.trim()} (${failure})`,
        ),
      );
    }
  }

  #transact(args: readonly string[]): Promise<void> {
    const child = this.#child ?? this.#start();
    const text = `${restoreTransaction(args)}${PING}\n`;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
      }, IPTABLES_RESTORE_TIMEOUT_MS);
      this.#waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#stderr = '';
      child.stdin?.write(text, 'latin1');
    });
  }

  /** Ends the process (stdin closed; it exits). Idempotent. */
  close(): void {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined) return;
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    timer.unref();
    child.once('exit', () => clearTimeout(timer));
  }
}
