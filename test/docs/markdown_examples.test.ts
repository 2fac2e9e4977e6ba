/**
 * Runs the code blocks of README.md and docs/*.md that are marked runnable: a fence opened with
 * ```` ```js runnable ```` (plain JavaScript, run by plain `node` — so it must parse on Node 20)
 * or ```` ```ts runnable ```` (run through tsx), optionally followed by `expect=<text>`, which the
 * output must contain. Each block is written as a module into a temporary folder whose
 * `node_modules/tsnetd` points at this checkout, so `tsnetd/<part>` resolves through the package's
 * `exports` to the built `dist/` exactly as for an installed package (needs `npm run build`;
 * npm test builds first). Each must exit 0 within 20 s, touching loopback only.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(import.meta.dirname, '../..');
const TIMEOUT_MS = 20_000;
const FENCE = /^```(js|ts) runnable(?: expect=(.+))?$/;

interface Block {
  readonly name: string;
  readonly language: 'js' | 'ts';
  readonly expect: string | undefined;
  readonly code: string;
}

/** The runnable blocks of one markdown file. */
export function runnableBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = FENCE.exec(lines[i] ?? '');
    if (m === null) continue;
    const start = i + 1;
    const code: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) code.push(lines[i] ?? '');
    blocks.push({
      name: `${file}:${start}`,
      language: m[1] as 'js' | 'ts',
      expect: m[2],
      code: code.join('\n'),
    });
  }
  return blocks;
}

const FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const BLOCKS = FILES.flatMap((f) => runnableBlocks(f, readFileSync(join(ROOT, f), 'utf8')));

const dir = mkdtempSync(join(tmpdir(), 'tsnetd-md-examples-'));
mkdirSync(join(dir, 'node_modules'));
symlinkSync(ROOT, join(dir, 'node_modules', 'tsnetd'), 'dir');
after(() => rmSync(dir, { recursive: true, force: true }));

function run(block: Block, index: number): Promise<{ code: number | null; output: string }> {
  const path = join(dir, `example${index}.${block.language === 'js' ? 'mjs' : 'mts'}`);
  writeFileSync(path, `${block.code}\n`);
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const tsx = fileURLToPath(import.meta.resolve('tsx'));
  const args = block.language === 'js' ? [path] : ['--import', tsx, path];
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      args,
      { cwd: dir, env, timeout: TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: unknown }) | null;
        resolvePromise({
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
          output: `${stdout}${stderr}`,
        });
      },
    );
  });
}

test('the fence rule finds js and ts blocks and their expectations, and nothing else', () => {
  const md = [
    '```js runnable expect=hi',
    'console.log("hi")',
    '```',
    '```js',
    'not run',
    '```',
    '```ts runnable',
    'const x: number = 1;',
    '```',
  ].join('\n');
  assert.deepEqual(runnableBlocks('x.md', md), [
    { name: 'x.md:1', language: 'js', expect: 'hi', code: 'console.log("hi")' },
    { name: 'x.md:7', language: 'ts', expect: undefined, code: 'const x: number = 1;' },
  ]);
});

test('the README has runnable examples for IPsec and ESP', () => {
  const readme = BLOCKS.filter((b) => b.name.startsWith('README.md:'));
  assert.ok(readme.some((b) => b.code.includes("from 'tsnetd/ipsec'")));
  assert.ok(readme.some((b) => b.code.includes("from 'tsnetd/esp'")));
  for (const b of readme) assert.doesNotMatch(b.code, /\bawait using\b/, `${b.name}: Node 20`);
});

BLOCKS.forEach((block, index) => {
  test(`${block.name} runs (${block.language})`, async () => {
    const { code, output } = await run(block, index);
    assert.equal(code, 0, output);
    if (block.expect !== undefined) assert.ok(output.includes(block.expect), output);
  });
});
