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
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  realpathSync,
  statSync,
} from 'node:fs';
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

function isWritableSticky(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isDirectory() && (st.mode & 0o1000) !== 0 && (st.mode & 0o022) !== 0;
  } catch {
    return false;
  }
}

/**
 * In a directory others may write (sticky), only entries root owns are root's: the entry itself
 * (not what a symlink points to) must belong to root, or its owner could swap it.
 */
function checkStickyEntry(tool: string, entry: string): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(entry);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UntrustedToolError(tool, entry, `cannot be inspected (${code})`);
  }
  if (st.uid !== 0) {
    throw new UntrustedToolError(
      tool,
      entry,
      `is owned by uid ${st.uid} in a directory others can write`,
    );
  }
}

function checkChain(tool: string, path: string, withLeaf = true): void {
  if (withLeaf) checkNode(tool, path, true);
  let child = path;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    // Without a leaf, missing directories are skipped: the nearest existing one decides who
    // could create them.
    if (withLeaf || existsSync(dir)) checkNode(tool, dir, false);
    if (isWritableSticky(dir)) {
      // A sticky directory others can write: trusted only for what root put there.
      if (!existsSync(child) && !isSymlink(child)) {
        throw new UntrustedToolError(
          tool,
          child,
          'does not exist in a directory others can write (anyone could create it)',
        );
      }
      checkStickyEntry(tool, child);
    }
    if (dir === '/') break;
    child = dir;
  }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
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

/** A trusted tool opened for execution. */
export interface OpenedTool {
  /** Read-only descriptor of the checked file. */
  readonly fd: number;
  /**
   * Whether it is a `#!` script: the kernel would hand its interpreter the `/proc/self/fd`
   * name instead of the tool's, so scripts are started by path (their interpreter opens them
   * by name in any case); every trust check above still applied.
   */
  readonly script: boolean;
}

/**
 * Opens a trusted tool for execution by descriptor: the trust checks of
 * {@link assertTrustedTool} (as root), then the real file is opened without following links
 * and the *opened* file is checked again (regular, root-owned, not writable by group/others,
 * executable). Running `/proc/self/fd/N` of this descriptor executes exactly the file that was
 * checked — nobody can swap it between the check and the exec.
 *
 * @param tool absolute path of the tool.
 * @returns the descriptor (close it once the child started).
 * @throws {UntrustedToolError} when a check fails.
 * @example
 * ```ts
 * const { fd } = openTrustedTool('/usr/sbin/ip');
 * spawn('/proc/self/fd/3', ['xfrm', 'state'], { argv0: '/usr/sbin/ip', stdio: ['ignore', 'pipe', 'pipe', fd] });
 * closeSync(fd);
 * ```
 */
export function openTrustedTool(tool: string): OpenedTool {
  assertTrustedTool(tool, 0);
  let real: string;
  try {
    real = realpathSync(tool);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UntrustedToolError(tool, tool, `cannot be resolved (${code})`);
  }
  let fd: number;
  try {
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UntrustedToolError(tool, real, `cannot be opened (${code})`);
  }
  const st = fstatSync(fd);
  const problem = !st.isFile()
    ? 'is not a regular file'
    : st.uid !== 0
      ? `is owned by uid ${st.uid}, not root`
      : (st.mode & 0o022) !== 0
        ? 'is writable by group or others'
        : (st.mode & 0o111) === 0
          ? 'is not executable'
          : undefined;
  if (problem !== undefined) {
    closeSync(fd);
    throw new UntrustedToolError(tool, real, problem);
  }
  const magic = Buffer.alloc(2);
  let script = false;
  try {
    script = readSync(fd, magic, 0, 2, 0) === 2 && magic.toString('latin1') === '#!';
  } catch {
    // Unreadable: the exec itself reports the problem.
  }
  return { fd, script };
}
