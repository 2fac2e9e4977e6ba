#!/usr/bin/env node
// Runs every test/**/*.test.ts file with node:test (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [--unit] [path-substring…]   (filters the files by substring)
// --unit: only the files that need neither root nor the network, i.e. whose header comment has no
// `@requires root` or `@requires network` line (see README, "Tests").
// TSNETD_TEST_CONCURRENCY sets how many test files run at once (default 3). Files whose header
// comment has a `@runs-alone` line (timing measurements: event-loop delay, CPU share) run after
// the others, one at a time, so no other test file competes with them for the CPU.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requirements, runsAlone } from './test-requirements.mjs';

function collect(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...collect(p));
    else if (entry.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const unit = args.includes('--unit');
const filters = args.filter((a) => a !== '--unit');
const files = collect('test')
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .filter((f) => !unit || requirements(readFileSync(f, 'utf8')).length === 0)
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const alone = files.filter((f) => runsAlone(readFileSync(f, 'utf8')));
const shared = files.filter((f) => !alone.includes(f));

/** Runs `list` with node:test, `concurrency` files at once; returns the exit status. */
function run(list, concurrency) {
  if (list.length === 0) return 0;
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      '--test-reporter=spec',
      '--test-timeout=1200000',
      ...list,
    ],
    { stdio: 'inherit' },
  );
  return result.status ?? 1;
}

const sharedStatus = run(shared, process.env.TSNETD_TEST_CONCURRENCY ?? '3');
if (alone.length > 0) console.log(`run-tests: alone, one at a time: ${alone.join(' ')}`);
const aloneStatus = run(alone, '1');
process.exit(sharedStatus !== 0 ? sharedStatus : aloneStatus);
