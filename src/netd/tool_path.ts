/**
 * Where netd finds the programs it runs: a fixed list of system directories, never PATH. A
 * program is used only when it (after symlinks) is a regular file owned by root that neither
 * group nor others can write, so nobody but root can change what the root daemon executes.
 */
import { realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ToolMissingError } from './errors.ts';

/** The directories searched, in order. */
export const TOOL_DIRECTORIES: readonly string[] = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/**
 * The absolute path of a system tool.
 *
 * @throws {ToolMissingError} when no trusted copy exists.
 * @example
 * ```ts
 * findTool('iptables-restore'); // '/usr/sbin/iptables-restore'
 * ```
 */
export function findTool(name: string): string {
  for (const dir of TOOL_DIRECTORIES) {
    const path = join(dir, name);
    try {
      const real = realpathSync(path);
      const st = statSync(real);
      if (st.isFile() && st.uid === 0 && (st.mode & 0o022) === 0) return path;
    } catch {
      // not there
    }
  }
  throw new ToolMissingError(name, TOOL_DIRECTORIES);
}
