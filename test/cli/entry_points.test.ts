/**
 * Every program of the project starts with the process guard: the first import of each
 * executable in src/cli (a file with a `#!` line) is `./process_guard.ts`, so SIGUSR1 is
 * ignored and NODE_OPTIONS refused for root before any other module of the project runs —
 * also for programs added later.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const CLI = resolve(import.meta.dirname, '../../src/cli');

test('each executable imports ./process_guard.ts before anything else', () => {
  const executables = readdirSync(CLI).filter(
    (f) => f.endsWith('.ts') && readFileSync(join(CLI, f), 'utf8').startsWith('#!'),
  );
  assert.ok(executables.length >= 4, executables.join(', '));
  for (const file of executables) {
    const text = readFileSync(join(CLI, file), 'utf8');
    const first = /^import\s[^;]*;|^import\s+'[^']+';/m.exec(text)?.[0];
    assert.equal(first, "import './process_guard.ts';", file);
  }
});
