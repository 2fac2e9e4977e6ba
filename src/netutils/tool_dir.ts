/**
 * Where the real tools live. AOSP hard-codes `/system/bin` (`aosp-netutils.md` §1.2.3);
 * Linux keeps them in `/usr/sbin` or `/sbin`, so tsnetd takes, in order: `NETUTILS_BIN_DIR`,
 * the config file's `binDir`, else the first of {@link DEFAULT_TOOL_DIRS} that holds an
 * executable of the tool's name. `PATH` is never consulted.
 */
import { accessSync, constants } from 'node:fs';
import { UNSAFE_ARGUMENT_REGEXP } from './check.ts';
import { InvalidToolDirError } from './errors.ts';

/** Directories searched for a tool when none is configured, in order. */
export const DEFAULT_TOOL_DIRS: readonly string[] = ['/system/bin', '/usr/sbin', '/sbin'];

/** Longest tool directory accepted (PATH_MAX). */
export const MAX_TOOL_DIR_LENGTH = 4096;

/**
 * Checks and normalises a configured tool directory: absolute, no whitespace or control
 * characters, trailing slashes removed (`/` stays `/`).
 *
 * @param dir the configured value.
 * @param origin where it came from, for the message (`NETUTILS_BIN_DIR`, a config path).
 * @returns the normalised directory.
 * @throws {InvalidToolDirError} when the value is unusable.
 * @example
 * ```ts
 * validateToolDir('/usr/sbin/', 'NETUTILS_BIN_DIR'); // '/usr/sbin'
 * ```
 */
export function validateToolDir(dir: string, origin: string): string {
  if (!dir.startsWith('/')) throw new InvalidToolDirError(dir, origin, 'not an absolute path');
  if (dir.length > MAX_TOOL_DIR_LENGTH) {
    throw new InvalidToolDirError(dir, origin, `longer than ${MAX_TOOL_DIR_LENGTH} characters`);
  }
  if (UNSAFE_ARGUMENT_REGEXP.test(dir)) {
    throw new InvalidToolDirError(dir, origin, 'contains whitespace or a control character');
  }
  const trimmed = dir.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/**
 * The first directory of `candidates` holding an executable named `tool`.
 *
 * @returns the directory, or `undefined` when none does.
 * @example
 * ```ts
 * findToolDir('ip'); // '/usr/sbin' on Debian
 * ```
 */
export function findToolDir(
  tool: string,
  candidates: readonly string[] = DEFAULT_TOOL_DIRS,
): string | undefined {
  for (const dir of candidates) {
    try {
      accessSync(`${dir}/${tool}`, constants.X_OK);
      return dir;
    } catch {
      // Not here (missing or not executable): try the next candidate.
    }
  }
  return undefined;
}
