/**
 * Crash-recovery state of the daemon (what netd resets at start-up): what Linux looked like
 * before tsnetd changed it — the policy rules `init()` flushed and the original value of every
 * sysctl it wrote — plus the routing tables it put routes in. Written before each change,
 * removed after a clean shutdown. A daemon that finds the file at start-up knows its
 * predecessor died without cleaning up (SIGKILL, crash, power loss): it restores from the
 * file instead of mistaking the predecessor's leftovers for the original state.
 *
 * The file is JSON, written atomically (temporary file + rename) with mode 0600.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

/** What is persisted. */
export interface NetdState {
  /** `ip rule save` output per family (base64), taken before the first flush. */
  rules: Partial<Record<'4' | '6', string>>;
  /** Original value of each sysctl (path under /proc/sys/net) before tsnetd wrote it. */
  sysctls: Record<string, string>;
  /** Routing tables tsnetd added routes to. */
  tables: number[];
}

function emptyState(): NetdState {
  return { rules: {}, sysctls: {}, tables: [] };
}

function parseState(text: string): NetdState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const state = emptyState();
  const rules = v.rules as Record<string, unknown> | undefined;
  for (const family of ['4', '6'] as const) {
    const r = rules?.[family];
    if (typeof r === 'string') state.rules[family] = r;
  }
  const sysctls = v.sysctls as Record<string, unknown> | undefined;
  if (typeof sysctls === 'object' && sysctls !== null) {
    for (const [k, s] of Object.entries(sysctls)) {
      if (typeof s === 'string' && /^[\w./-]+$/.test(k) && !k.includes('..')) state.sysctls[k] = s;
    }
  }
  if (Array.isArray(v.tables)) {
    for (const t of v.tables) if (Number.isInteger(t) && t > 0 && t < 2 ** 32) state.tables.push(t);
  }
  return state;
}

/**
 * The state file of one daemon instance.
 *
 * @example
 * ```ts
 * const file = new StateFile('/run/tsnetd/netd.state');
 * const leftover = file.recovered; // state of a daemon that died, or undefined
 * file.update((s) => { s.tables.push(1002); });
 * file.remove(); // after a clean shutdown
 * ```
 */
export class StateFile {
  readonly path: string;
  /** State found at construction: a predecessor died without cleaning up. */
  readonly recovered: NetdState | undefined;
  #state: NetdState;

  constructor(path: string) {
    this.path = path;
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    this.recovered = text === undefined ? undefined : parseState(text);
    this.#state = this.recovered ?? emptyState();
  }

  /** The current state (recovered, then updated). */
  get state(): Readonly<NetdState> {
    return this.#state;
  }

  /** Applies `change` and writes the file before returning. */
  update(change: (state: NetdState) => void): void {
    change(this.#state);
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.#state)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  /** Deletes the file (clean shutdown: nothing left to recover). */
  remove(): void {
    rmSync(this.path, { force: true });
    this.#state = emptyState();
  }
}
