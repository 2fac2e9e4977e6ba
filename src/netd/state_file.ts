/**
 * Crash-recovery state of the daemon: what it must undo if it dies without cleaning up — the
 * routing tables it put routes in and the host's sysctl values saved before forwarding was
 * changed. Created at start-up, before the first change; removed after a clean shutdown. A
 * daemon that finds the file at start-up knows its predecessor died (SIGKILL, crash): it
 * removes the leftovers and restores the saved values instead of mistaking them for the host's.
 *
 * Safety (the daemon runs as root beside unprivileged users):
 * - the directory and each of its ancestors must be owned by root (or the daemon's own user)
 *   and not writable by group or others (a sticky ancestor such as /tmp is accepted), else
 *   start-up is refused;
 * - the file is read with `O_NOFOLLOW` and must be a regular file owned by the daemon's user;
 * - writes go to `<state>.tmp` created with `O_CREAT | O_EXCL | O_NOFOLLOW` (mode 0600), then
 *   renamed over the file, so no symlink or pre-created file is ever written through;
 * - a file that is empty, truncated, not JSON or not a valid snapshot (`{}` included) is an
 *   error at start-up (`StartRefusedError`, nothing changed): inspect it, undo what it lists by
 *   hand if needed, remove it, start again.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StartRefusedError } from './errors.ts';
import { checkSysctlPath } from './linux_net.ts';

/** Version of the file format. */
export const STATE_VERSION = 1;
/** Largest state file read (a snapshot of thousands of interfaces is a few hundred KiB). */
export const MAX_STATE_FILE_LENGTH = 16 * 1024 * 1024;

/** What is persisted. */
export interface NetdState {
  version: typeof STATE_VERSION;
  /** Host value of each sysctl (path under /proc/sys/net) saved before forwarding changed. */
  sysctls: Record<string, string>;
  /** Routing tables tsnetd added routes to (flushed when recovering). */
  tables: number[];
}

function emptyState(): NetdState {
  return { version: STATE_VERSION, sysctls: {}, tables: [] };
}

/** Why a text is not a state snapshot, or undefined when it is one. */
function invalidReason(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v).sort().join(',');
  if (keys !== 'sysctls,tables,version') return `keys are {${keys}}, not {sysctls,tables,version}`;
  if (v.version !== STATE_VERSION)
    return `version is ${JSON.stringify(v.version)}, not ${STATE_VERSION}`;
  if (typeof v.sysctls !== 'object' || v.sysctls === null || Array.isArray(v.sysctls))
    return 'sysctls is not an object';
  for (const [path, s] of Object.entries(v.sysctls as Record<string, unknown>)) {
    if (typeof s !== 'string' || !/^-?\d{1,20}$/.test(s))
      return `sysctl ${JSON.stringify(path)} has no numeric value`;
    try {
      checkSysctlPath(path);
    } catch {
      return `sysctl path ${JSON.stringify(path)} is invalid`;
    }
  }
  if (!Array.isArray(v.tables)) return 'tables is not an array';
  for (const t of v.tables as unknown[]) {
    if (typeof t !== 'number' || !Number.isInteger(t) || t <= 0 || t >= 2 ** 32)
      return `table ${JSON.stringify(t)} is not a table number`;
  }
  return undefined;
}

/**
 * Refuses a directory (and ancestors) that someone other than root or the daemon's user could
 * change: wrong owner, or group/other write permission without the sticky bit on an ancestor.
 *
 * @throws {StartRefusedError} naming the directory and the reason.
 */
export function checkPrivateDirectory(dir: string): void {
  const uid = process.geteuid?.() ?? 0;
  let current = resolve(dir);
  let isTarget = true;
  for (;;) {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(current);
    } catch (error: unknown) {
      throw new StartRefusedError(`Cannot use state directory "${current}": ${String(error)}`, {
        cause: error,
      });
    }
    if (!st.isDirectory())
      throw new StartRefusedError(
        `Cannot use state directory "${current}": not a directory (a symlink?)`,
      );
    if (st.uid !== 0 && st.uid !== uid)
      throw new StartRefusedError(
        `Cannot use state directory "${current}": owned by uid ${st.uid}, not by root`,
      );
    const writableByOthers = (st.mode & 0o022) !== 0;
    const sticky = (st.mode & 0o1000) !== 0; // S_ISVTX
    if (writableByOthers && (isTarget || !sticky))
      throw new StartRefusedError(
        `Cannot use state directory "${current}": writable by group or others (mode ${(st.mode & 0o7777).toString(8)}); use a directory only root can write`,
      );
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
    isTarget = false;
  }
}

function readNoFollow(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new StartRefusedError(
      `Cannot read state file "${path}": ${code === 'ELOOP' ? 'it is a symbolic link' : String(error)}`,
      { cause: error },
    );
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new StartRefusedError(`Cannot read state file "${path}": not a regular file`);
    const uid = process.geteuid?.() ?? 0;
    if (st.uid !== uid)
      throw new StartRefusedError(`Cannot read state file "${path}": owned by uid ${st.uid}`);
    if (st.size > MAX_STATE_FILE_LENGTH)
      throw new StartRefusedError(
        `Cannot read state file "${path}": ${st.size} bytes is too large`,
      );
    const buffer = Buffer.alloc(st.size);
    let n = 0;
    while (n < buffer.length) {
      const got = readSync(fd, buffer, n, buffer.length - n, n);
      if (got === 0) break;
      n += got;
    }
    return buffer.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * The state file of one daemon instance.
 *
 * @example
 * ```ts
 * const file = new StateFile('/run/tsnetd/netd.state'); // throws StartRefusedError when unsafe or corrupt
 * const leftover = file.recovered; // state of a daemon that died, or undefined
 * file.reset(); // from now on this daemon's state
 * file.update((s) => { s.tables.push(1002); });
 * file.remove(); // after a clean shutdown
 * ```
 */
export class StateFile {
  readonly path: string;
  /** State found at construction: a predecessor died without cleaning up. */
  readonly recovered: Readonly<NetdState> | undefined;
  #state: NetdState;

  /**
   * Checks the directory and reads the file left by a predecessor, if any.
   *
   * @throws {StartRefusedError} unsafe directory or file, or a file that is not a valid state.
   */
  constructor(path: string) {
    this.path = resolve(path);
    checkPrivateDirectory(dirname(this.path));
    const text = readNoFollow(this.path);
    if (text === undefined) {
      this.recovered = undefined;
    } else {
      let value: unknown;
      let reason: string | undefined;
      if (text.trim() === '') reason = 'it is empty';
      else {
        try {
          value = JSON.parse(text);
          reason = invalidReason(value);
        } catch {
          reason = 'it is not complete JSON (truncated or garbage)';
        }
      }
      if (reason !== undefined) {
        throw new StartRefusedError(
          `Cannot recover from state file "${this.path}": ${reason}. A tsnetd died and its state cannot be read, so nothing was changed. Inspect the file and the namespace (rules at priorities 10000-32000, tables 97-99 and 1000+, mangle chain routectrl_mangle_INPUT, forwarding sysctls), repair by hand if needed, then remove the file and start again.`,
        );
      }
      this.recovered = value as NetdState;
    }
    this.#state = structuredClone(this.recovered ?? emptyState());
  }

  /** The current state (recovered, then updated). */
  get state(): Readonly<NetdState> {
    return this.#state;
  }

  /** Starts this daemon's own state (the predecessor's leftovers are gone): an empty snapshot. */
  reset(): void {
    this.#state = emptyState();
    this.#write();
  }

  /** Applies `change` and writes the file before returning. */
  update(change: (state: NetdState) => void): void {
    change(this.#state);
    this.#write();
  }

  #write(): void {
    const tmp = `${this.path}.tmp`;
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    let fd: number;
    try {
      fd = openSync(tmp, flags, 0o600);
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Left by a crash during a write (the directory is private): unlink never follows links.
      unlinkSync(tmp);
      fd = openSync(tmp, flags, 0o600);
    }
    try {
      const bytes = Buffer.from(`${JSON.stringify(this.#state)}\n`, 'utf8');
      let n = 0;
      while (n < bytes.length) n += writeSync(fd, bytes, n, bytes.length - n);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }

  /** Deletes the file (clean shutdown, or a recovery that left nothing to undo). */
  remove(): void {
    rmSync(this.path, { force: true });
    this.#state = emptyState();
  }
}
