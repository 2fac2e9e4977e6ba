/**
 * Where the real tools live. AOSP hard-codes `/system/bin`;
 * Linux keeps them in `/usr/sbin` or `/sbin`, so tsnetd takes, in order: `NETUTILS_BIN_DIR`,
 * the config file's `binDir`, else the first of {@link DEFAULT_TOOL_DIRS} that holds an
 * executable of the tool's name. `PATH` is never consulted.
 *
 * When the wrapper runs as root, the tool must be trustworthy: the file (after symlinks) and
 * every directory above it and above the configured path must be owned by root and not
 * writable by group or others (a root-owned directory with the sticky bit, like `/tmp`, is
 * accepted: others cannot replace root's entries in it). Otherwise whoever can write there
 * chooses what root executes.
 */
import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { UNSAFE_ARGUMENT_REGEXP } from './check.ts';
import { InvalidToolDirError, UntrustedToolError } from './errors.ts';

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

function checkNode(tool: string, path: string, isLeaf: boolean): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UntrustedToolError(tool, path, `cannot be inspected (${code})`);
  }
  if (st.uid !== 0) throw new UntrustedToolError(tool, path, `is owned by uid ${st.uid}, not root`);
  const writable = (st.mode & 0o022) !== 0;
  const stickyDir = st.isDirectory() && (st.mode & 0o1000) !== 0;
  if (writable && (isLeaf || !stickyDir)) {
    throw new UntrustedToolError(tool, path, 'is writable by group or others');
  }
}

function checkChain(tool: string, path: string, withLeaf = true): void {
  if (withLeaf) checkNode(tool, path, true);
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    // Without a leaf, missing directories are skipped: the nearest existing one decides who
    // could create them.
    if (withLeaf || existsSync(dir)) checkNode(tool, dir, false);
    if (dir === '/') break;
  }
}

/**
 * Refuses a tool that someone other than root could replace, when running as root (euid 0);
 * a no-op otherwise (an unprivileged wrapper can only run what its caller could run anyway).
 *
 * @param tool absolute path of the tool (`<tool dir>/<tool>`).
 * @param euid effective uid to judge for; default the process's.
 * @throws {UntrustedToolError} when the tool, its real file or a directory above either is
 *   not root-owned or is group/world-writable (root-owned sticky directories excepted).
 * @example
 * ```ts
 * assertTrustedTool('/usr/sbin/ip'); // passes on a stock system
 * ```
 */
export function assertTrustedTool(tool: string, euid = process.geteuid?.() ?? -1): void {
  if (euid !== 0) return;
  if (!existsSync(tool)) {
    // Nothing to run: spawn reports ENOENT; the directories are still judged.
    checkChain(tool, tool, false);
    return;
  }
  checkChain(tool, tool);
  let real: string;
  try {
    real = realpathSync(tool);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UntrustedToolError(tool, tool, `cannot be resolved (${code})`);
  }
  if (real !== tool) checkChain(tool, real);
}
