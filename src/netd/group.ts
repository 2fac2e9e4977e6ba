/**
 * Resolves a group given as a name or a numeric id, from `/etc/group` (the daemon needs no
 * NSS: a numeric id is taken as is, a name must be listed in the file).
 */
import { readFileSync } from 'node:fs';

/** The group is neither a number nor listed in the group file. */
export class UnknownGroupError extends Error {
  override readonly name = 'UnknownGroupError';
  readonly code = 'ERR_NETD_UNKNOWN_GROUP';
  /**
   * @example
   * ```ts
   * new UnknownGroupError('netadm', '/etc/group');
   * ```
   */
  constructor(group: string, file: string) {
    super(`Cannot use group ${JSON.stringify(group)}: not a number and not listed in ${file}`);
  }
}

/**
 * The numeric id of `group` (a decimal id, or a name looked up in `file`).
 *
 * @throws {UnknownGroupError}
 * @example
 * ```ts
 * resolveGroup('0'); // 0
 * resolveGroup('root'); // 0
 * ```
 */
export function resolveGroup(group: string, file = '/etc/group'): number {
  if (/^[0-9]{1,10}$/.test(group)) {
    const gid = Number(group);
    if (gid <= 0xfffffffe) return gid;
  }
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UnknownGroupError(group, file);
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^[0-9]+$/.test(gid)) return Number(gid);
  }
  throw new UnknownGroupError(group, file);
}
