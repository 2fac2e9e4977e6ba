/**
 * An exclusive advisory lock on a file (`flock(LOCK_EX | LOCK_NB)`), held until the descriptor
 * is closed or the process dies — the kernel releases it even after SIGKILL, so a lock never
 * goes stale. The lock file is opened without following symbolic links and must be a regular
 * file owned by the caller: a lock file someone else planted is refused, never written.
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { errnoName, SysError } from './errors.ts';
import { libc } from './libc.ts';

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

/**
 * The lock file cannot be used: it is held by another process, is not a regular file owned by
 * us, or cannot be opened.
 *
 * @example
 * ```ts
 * import { FileLockError } from './file_lock.ts';
 * new FileLockError('/run/x.lock', 'held', 'held by another process').code; // 'ERR_SYS_FILE_LOCK'
 * ```
 */
export class FileLockError extends SysError {
  /** `held` when another process holds the lock; `unusable` otherwise. */
  readonly reason: 'held' | 'unusable';
  readonly path: string;
  constructor(path: string, reason: 'held' | 'unusable', detail: string, options?: ErrorOptions) {
    super(`Cannot lock "${path}": ${detail}`, 'ERR_SYS_FILE_LOCK', options);
    this.name = 'FileLockError';
    this.reason = reason;
    this.path = path;
  }
}

/** A held lock; {@link FileLock.release} closes the descriptor. */
export class FileLock {
  readonly path: string;
  #fd: number | undefined;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /**
   * Opens (creating with mode 0600 if needed, never through a symlink) and locks `path`.
   *
   * @throws {FileLockError} `held` when another process holds it, `unusable` otherwise.
   * @example
   * ```ts
   * const lock = FileLock.acquire('/run/tsnetd/netd.lock');
   * // … lock.release();
   * ```
   */
  static acquire(path: string): FileLock {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (err: unknown) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new FileLockError(path, 'unusable', `cannot open it (${code})`, { cause: err });
    }
    try {
      const st = fstatSync(fd);
      const euid = process.geteuid?.() ?? 0;
      if (!st.isFile()) throw new FileLockError(path, 'unusable', 'not a regular file');
      if (st.uid !== euid)
        throw new FileLockError(path, 'unusable', `owned by uid ${st.uid}, not ${euid}`);
      const c = libc();
      if (c.flock(fd, LOCK_EX | LOCK_NB) < 0) {
        const errno = c.errno();
        throw new FileLockError(
          path,
          errno === EWOULDBLOCK ? 'held' : 'unusable',
          errno === EWOULDBLOCK ? 'held by another process' : `flock failed (${errnoName(errno)})`,
        );
      }
      return new FileLock(path, fd);
    } catch (err: unknown) {
      closeSync(fd);
      throw err;
    }
  }

  /** Releases the lock (closes the descriptor). Idempotent. */
  release(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}
