/**
 * One line to the system log for a refused command (AOSP writes it to logcat at INFO with tag
 * `NetUtilsWrapper`).
 *
 * Node has no Unix datagram sockets, so the line is handed to util-linux `logger`, started by
 * absolute path (never through `PATH`), with an argv array (no shell), an empty environment,
 * detached and unreferenced: the wrapper neither waits for it nor looks at its result. It is
 * attempted only when the syslog socket exists. Whatever happens to it cannot change the
 * verdict or the exit status.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where `logger` is looked for, in order. */
export const LOGGER_PATHS: readonly string[] = ['/usr/bin/logger', '/bin/logger'];
/** The syslog socket used when none is configured. */
export const SYSLOG_SOCKET_PATH = '/dev/log';
/** The tag AOSP logs under. */
export const SYSLOG_TAG = 'NetUtilsWrapper';

/** Options of {@link logToSyslog}. */
export interface SyslogOptions {
  /** The syslog Unix socket. Default `/dev/log`. */
  readonly socketPath?: string;
  /** Candidate `logger` executables. Default {@link LOGGER_PATHS}. */
  readonly loggerPaths?: readonly string[];
}

function ignoreLoggerFailure(): void {
  // Logging is best effort by design: a missing or failing logger must not alter the verdict.
}

/**
 * Sends `message` at `user.info` with tag `NetUtilsWrapper`, without waiting.
 *
 * @returns whether a `logger` process was started (not whether the line arrived).
 * @example
 * ```ts
 * logToSyslog('Unexpected command: /usr/sbin/ip link show');
 * ```
 */
export function logToSyslog(message: string, options: SyslogOptions = {}): boolean {
  const socketPath = options.socketPath ?? SYSLOG_SOCKET_PATH;
  if (!existsSync(socketPath)) return false;
  const logger = (options.loggerPaths ?? LOGGER_PATHS).find((p) => existsSync(p));
  if (logger === undefined) return false;
  try {
    const child = spawn(
      logger,
      ['-t', SYSLOG_TAG, '-p', 'user.info', '-u', socketPath, '--socket-errors=off', '--', message],
      { stdio: 'ignore', detached: true, env: {} },
    );
    child.on('error', ignoreLoggerFailure);
    child.unref();
    return true;
  } catch {
    // spawn() can throw synchronously (e.g. EAGAIN); the verdict stands regardless.
    return false;
  }
}
