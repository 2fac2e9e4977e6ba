/**
 * Runs every TSDoc `@example` of the public layers as a standalone program (the project's
 * rule: one titled `@example` that runs). Each ```ts fence is extracted, its `tsnetd/<layer>` and
 * relative imports are pointed at the sources, and it runs as an ES module (top-level await) in
 * its own `node --import tsx` process, which must exit 0 within 20 s. Examples may only touch
 * loopback. Examples that cannot run standalone by nature are in {@link ALLOWED_TO_FAIL}, with
 * the reason and the only failure accepted; a stale entry fails the suite.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Folders scanned (recursively when `deep`). */
const SCANNED: readonly { dir: string; deep: boolean }[] = [
  { dir: 'src/esp', deep: true },
  { dir: 'src/datapath', deep: false },
  { dir: 'src/ipsec', deep: false },
];

/** Package specifiers the examples use, mapped to the sources. */
const PACKAGES: Readonly<Record<string, string>> = {
  'tsnetd/esp': 'src/esp/mod.ts',
  'tsnetd/datapath': 'src/datapath/mod.ts',
  'tsnetd/ipsec': 'src/ipsec/mod.ts',
};

/**
 * Examples that cannot run standalone by nature: test name → why, and the failure they may end
 * with here. They still run; they pass when they exit 0 (e.g. on a kernel with ESP) or when their
 * output matches `failsWith`.
 */
const ALLOWED_TO_FAIL: ReadonlyMap<string, { reason: string; failsWith: RegExp }> = new Map([
  [
    'src/ipsec/kernel_backend.ts: KernelBackend',
    {
      reason: 'needs root and a kernel with ESP (CONFIG_INET_ESP, CONFIG_XFRM_USER)',
      failsWith: /KernelBackendUnavailableError: Cannot use the kernel IPsec backend/,
    },
  ],
  [
    'src/ipsec/kernel_backend.ts: KernelBackend.create',
    {
      reason: 'needs root and a kernel with ESP (CONFIG_INET_ESP, CONFIG_XFRM_USER)',
      failsWith: /KernelBackendUnavailableError: Cannot use the kernel IPsec backend/,
    },
  ],
]);

const PER_EXAMPLE_TIMEOUT_MS = 20_000;
const CONCURRENCY = Math.max(2, Math.min(8, availableParallelism()));

interface Example {
  /** `<file>: <symbol>` (plus ` (line N)` when a file has two examples for one symbol). */
  readonly name: string;
  readonly file: string;
  /** 1-based line of the `@example` tag. */
  readonly line: number;
  readonly code: string;
}

function listFiles(dir: string, deep: boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (deep) out.push(...listFiles(rel, deep));
    } else if (entry.name.endsWith('.ts')) out.push(rel);
  }
  return out.sort();
}

const DECLARATION =
  /^export\s+(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:class|function\*?|const|let|var|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)/;
const MEMBER =
  /^(?:(?:public|static|readonly|override|async|abstract|get|set|declare)\s+)*\*?\s*(\[[^\]]+\]|#?[A-Za-z_$][\w$]*)\s*[?!]?\s*[(<:=;]/;

/** The symbol documented by the comment that ends on line `end` (0-based). */
function symbolAfter(lines: readonly string[], end: number): string | undefined {
  let owner: string | undefined;
  for (let i = end; i >= 0; i--) {
    const m = DECLARATION.exec(lines[i] ?? '');
    if (m !== null && /\b(?:class|interface)\b/.test(lines[i] ?? '')) {
      owner = m[1];
      break;
    }
    if (/^\S/.test(lines[i] ?? '') && /^}/.test(lines[i] ?? '')) break; // left the previous block
  }
  for (let i = end + 1; i < lines.length; i++) {
    const text = lines[i] ?? '';
    if (text.trim() === '' || text.trim().startsWith('//') || text.trim().startsWith('@')) continue;
    const top = DECLARATION.exec(text);
    if (top !== null) return top[1];
    const member = MEMBER.exec(text.trim());
    if (member !== null && /^\s/.test(text)) {
      return owner === undefined ? member[1] : `${owner}.${member[1]}`;
    }
    return undefined;
  }
  return undefined;
}

/** Every @example of a file; `missingFence` gets the lines of @example tags without a ```ts fence. */
function extract(file: string, missingFence: string[]): Example[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const found: { symbol: string; line: number; code: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*\*.*@example\b/.test(lines[i] ?? '')) continue;
    const tagLine = i;
    let j = i + 1;
    let code: string[] | undefined;
    for (; j < lines.length && !/\*\/|@\w+/.test(lines[j] ?? ''); j++) {
      if (/^\s*\*\s?```(?:ts|typescript)\s*$/.test(lines[j] ?? '')) {
        code = [];
        for (j++; j < lines.length && !/^\s*\*\s?```\s*$/.test(lines[j] ?? ''); j++) {
          code.push((lines[j] ?? '').replace(/^\s*\*(?: |$)/, ''));
        }
        break;
      }
    }
    if (code === undefined) {
      missingFence.push(`${file}:${tagLine + 1}`);
      continue;
    }
    let end = j;
    while (end < lines.length && !(lines[end] ?? '').includes('*/')) end++;
    let start = tagLine;
    while (start > 0 && !(lines[start] ?? '').includes('/**')) start--;
    const isModule = lines.slice(start, end + 1).some((l) => /@module\b/.test(l));
    const symbol = isModule ? 'module' : (symbolAfter(lines, end) ?? `line ${tagLine + 1}`);
    found.push({ symbol, line: tagLine + 1, code: code.join('\n') });
    i = j;
  }
  const counts = new Map<string, number>();
  for (const f of found) counts.set(f.symbol, (counts.get(f.symbol) ?? 0) + 1);
  return found.map((f) => ({
    name: `${file}: ${f.symbol}${(counts.get(f.symbol) ?? 0) > 1 ? ` (line ${f.line})` : ''}`,
    file,
    line: f.line,
    code: f.code,
  }));
}

/** Points `tsnetd/<layer>` and relative specifiers at absolute source URLs. */
function rewriteImports(example: Example): string {
  return example.code.replace(
    /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\2/g,
    (whole, lead: string, quote: string, spec: string) => {
      let target: string | undefined;
      const pkg = PACKAGES[spec];
      if (pkg !== undefined) target = join(ROOT, pkg);
      else if (spec.startsWith('./') || spec.startsWith('../')) {
        target = resolve(ROOT, dirname(example.file), spec);
      } else if (spec.startsWith('tsnetd')) {
        throw new Error(`${example.name}: unknown package import ${spec}`);
      }
      return target === undefined ? whole : `${lead}${quote}${pathToFileURL(target).href}${quote}`;
    },
  );
}

interface RunResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly output: string;
}

function runExample(path: string): Promise<RunResult> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path],
      {
        cwd: ROOT,
        env,
        timeout: PER_EXAMPLE_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 1 << 20,
      },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
        resolvePromise({
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
          signal: e?.signal ?? null,
          output: `${stdout}${stderr}`,
        });
      },
    );
  });
}

const missingFence: string[] = [];
const examples = SCANNED.flatMap(({ dir, deep }) =>
  listFiles(dir, deep).flatMap((f) => extract(f, missingFence)),
);

describe('TSDoc examples', () => {
  test('every @example has a ```ts fence', () => {
    assert.deepEqual(missingFence, []);
  });

  test('example names are unique', () => {
    const names = examples.map((e) => e.name);
    assert.deepEqual(
      names.filter((n, i) => names.indexOf(n) !== i),
      [],
    );
  });

  test('the allow-list has no stale entries', () => {
    const names = new Set(examples.map((e) => e.name));
    assert.deepEqual(
      [...ALLOWED_TO_FAIL.keys()].filter((n) => !names.has(n)),
      [],
    );
  });

  test('every public layer has examples', () => {
    for (const { dir } of SCANNED) {
      assert.ok(
        examples.some((e) => e.file.startsWith(`${dir}/`)),
        `no example found in ${dir}`,
      );
    }
  });
});

describe('TSDoc examples run', { concurrency: CONCURRENCY }, () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsnetd-examples-'));
  });
  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  examples.forEach((example, index) => {
    test(example.name, async (t) => {
      const path = join(dir, `example_${index}.mts`);
      writeFileSync(path, `${rewriteImports(example)}\n`);
      const started = Date.now();
      const result = await runExample(path);
      const allowed = ALLOWED_TO_FAIL.get(example.name);
      if (result.code !== 0 && allowed !== undefined && allowed.failsWith.test(result.output)) {
        t.diagnostic(`allowed to fail: ${allowed.reason}`);
        return;
      }
      assert.equal(
        result.code,
        0,
        `${example.file}:${example.line} exited with ${result.code ?? result.signal} after ${
          Date.now() - started
        } ms (${relative(ROOT, path)}):\n${result.output}`,
      );
      if (result.output.trim() !== '') t.diagnostic(result.output.trim());
    });
  });
});
