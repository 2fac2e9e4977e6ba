/**
 * A copy of the built package (package.json, dist/ and koffi) in a fresh directory that every
 * user can enter and read, for tests that run the built programs as another user. The checkout
 * itself may lie under a directory others cannot enter (a clone in root's home, mode 0700), so an
 * unprivileged process must never be pointed into it. One copy per test process, removed at exit.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
let copy: string | undefined;

/** The directory holding the copy (created on first call): `<copy>/dist/cli/…` etc. */
export function readableBuild(): string {
  if (copy !== undefined) return copy;
  if (!existsSync(join(ROOT, 'dist')))
    throw new Error('dist/ is missing: run "npm run build" first');
  const dir = mkdtempSync(join(tmpdir(), 'tsnetd-build-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  mkdirSync(join(dir, 'node_modules'));
  cpSync(join(ROOT, 'node_modules/koffi'), join(dir, 'node_modules/koffi'), { recursive: true });
  // koffi 3 keeps its prebuilt native addon in a per-platform package beside it.
  if (existsSync(join(ROOT, 'node_modules/@koromix')))
    cpSync(join(ROOT, 'node_modules/@koromix'), join(dir, 'node_modules/@koromix'), {
      recursive: true,
    });
  copy = dir;
  return dir;
}
