/**
 * Runs the built wrapper (dist/cli/netutils_wrapper.js, from `npm run build`) as real
 * processes under its installed names: symlinks in a temp dir, `node <tmp>/<name> …`, so
 * process.argv[1] carries the symlink name. A fake tool directory holds shell scripts named
 * like the tools that record their argv, so tests can see whether, and how, a tool ran.
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { INVOCATION_NAMES, WRAPPED_TOOLS, WRAPPER_NAME } from '../../src/netutils/dispatch.ts';

export const WRAPPER_JS = resolve(import.meta.dirname, '../../dist/cli/netutils_wrapper.js');

/** A fake tool: records "$0" and each argument on its own line, then acts on $NU_MODE. */
const FAKE_TOOL = `#!/bin/sh
out="$NU_MARK_DIR/$(basename "$0").ran"
printf '%s\\n' "$0" "$@" > "$out"
case "$NU_MODE" in
  exit7) exit 7 ;;
  kill9) kill -KILL $$ ;;
  term) kill -TERM $$ ;;
  wait) echo $$ > "$NU_MARK_DIR/pid"; exec sleep 30 ;;
esac
exit 0
`;

export interface Harness {
  readonly dir: string;
  readonly binDir: string;
  readonly markDir: string;
  /** Path of the symlink for an installed name. */
  link(name: string): string;
  run(
    name: string,
    args: readonly string[],
    env?: Record<string, string>,
  ): SpawnSyncReturns<string>;
  /** Recorded argv of a fake tool, or undefined when it did not run. */
  ran(tool: string): string[] | undefined;
  clearMarks(): void;
  env(extra?: Record<string, string>): Record<string, string>;
  cleanup(): void;
}

export function createHarness(): Harness {
  assert.ok(existsSync(WRAPPER_JS), `${WRAPPER_JS} is missing: run "npm run build" first`);
  const dir = mkdtempSync(join(tmpdir(), 'tsnetd-nu-'));
  const binDir = join(dir, 'bin');
  const markDir = join(dir, 'marks');
  const links = join(dir, 'links');
  for (const d of [binDir, markDir, links]) mkdirSync(d);
  for (const tool of WRAPPED_TOOLS) {
    writeFileSync(join(binDir, tool), FAKE_TOOL);
    chmodSync(join(binDir, tool), 0o755);
  }
  for (const name of [...Object.values(INVOCATION_NAMES), WRAPPER_NAME, 'ipsec', 'tcfoo']) {
    symlinkSync(WRAPPER_JS, join(links, name));
  }
  const baseEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    NU_MARK_DIR: markDir,
    NETUTILS_BIN_DIR: binDir,
    NETUTILS_CONFIG: join(dir, 'no-config.json'),
    ...extra,
  });
  const h: Harness = {
    dir,
    binDir,
    markDir,
    link: (name) => join(links, name),
    env: baseEnv,
    run(name, args, env) {
      const e = baseEnv(env);
      // An explicit NETUTILS_CONFIG must exist; tests that want "no config" get an empty object.
      if (e.NETUTILS_CONFIG === join(dir, 'no-config.json')) writeFileSync(e.NETUTILS_CONFIG, '{}');
      for (const [k, v] of Object.entries(e)) if (v === '\u0000unset') delete e[k];
      return spawnSync(process.execPath, [join(links, name), ...args], {
        env: e,
        cwd: dir,
        encoding: 'utf8',
        timeout: 20000,
      });
    },
    ran(tool) {
      const p = join(markDir, `${tool}.ran`);
      if (!existsSync(p)) return undefined;
      return readFileSync(p, 'utf8').split('\n').slice(0, -1);
    },
    clearMarks() {
      rmSync(markDir, { recursive: true, force: true });
      mkdirSync(markDir);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Value that removes a variable from the harness environment. */
export const UNSET = '\u0000unset';
