/**
 * Runs the benchmarks: every `bench/*.bench.ts` (or those whose file name contains one of the
 * command-line filters), each in its own `node --import tsx` process, one after the other.
 *
 * Usage: `npm run bench [-- filter…]`
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = import.meta.dirname;
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.bench.ts'))
  .filter((name) => filters.length === 0 || filters.some((f) => name.includes(f)))
  .sort();
if (files.length === 0) {
  console.error('bench: no benchmark matched');
  process.exit(1);
}
let failed = 0;
for (const name of files) {
  console.log(`\n# ${name}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(dir, name)], {
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    failed++;
    console.error(`bench: ${name} exited with ${result.status ?? result.signal}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
