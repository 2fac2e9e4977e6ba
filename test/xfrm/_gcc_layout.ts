/**
 * Checks numbers we hard-code (struct sizes, field offsets, constants) against gcc on the kernel
 * uapi headers: one C program prints each expression, and every value must equal ours.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Compiles a program including `headers` (e.g. `linux/xfrm.h`) that prints every C expression of
 * `layout`, runs it, and asserts it printed one value per pair, each equal to our number.
 */
export async function assertLayoutMatchesGcc(
  headers: readonly string[],
  layout: ReadonlyArray<readonly [string, number]>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tsnetd-xfrm-layout-'));
  try {
    const source = [
      ...headers.map((h) => `#include <${h}>`),
      'int main(void) {',
      ...layout.map(([expr]) => `  printf("%lu\\n", (unsigned long)(${expr}));`),
      '  return 0;',
      '}',
    ].join('\n');
    await writeFile(join(dir, 'layout.c'), source);
    await run('gcc', ['-o', join(dir, 'layout'), join(dir, 'layout.c')]);
    const { stdout } = await run(join(dir, 'layout'));
    const actual = stdout.trim().split('\n').map(Number);
    assert.equal(actual.length, layout.length);
    layout.forEach(([expr, ours], i) => {
      assert.equal(ours, actual[i], expr);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
