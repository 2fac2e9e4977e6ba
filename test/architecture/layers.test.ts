/**
 * Enforces the layer rules (docs/architecture.md): dependencies point down only.
 * Every relative import in src/ is resolved to its top-level folder and checked against
 * ALLOWED_IMPORTS. Type-only imports count too: a type dependency is still a dependency.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { listSources } from './_sources.ts';

const SRC = resolve(import.meta.dirname, '../../src');

/** Which layers each layer may import from (besides itself). */
const ALLOWED_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  esp: [],
  sys: [],
  xfrm: ['esp', 'sys'],
  datapath: ['esp', 'sys'],
  kernel: ['xfrm', 'esp', 'sys'],
  ipsec: ['datapath', 'kernel', 'xfrm', 'esp', 'sys'],
  netutils: [],
  netd: ['netutils', 'sys'],
  cli: ['netd', 'netutils', 'ipsec', 'datapath', 'kernel', 'xfrm', 'esp', 'sys'],
};

const IMPORT_REGEXP =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function layerOf(file: string): string {
  return relative(SRC, file).split(sep)[0] ?? '';
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(IMPORT_REGEXP)) {
    const spec = m[1] ?? m[2];
    if (spec !== undefined) specs.push(spec);
  }
  return specs;
}

test('every top-level folder of src/ is a known layer', () => {
  const layers = readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  for (const layer of layers) {
    assert.ok(layer in ALLOWED_IMPORTS, `src/${layer} is not a known layer`);
  }
});

test('imports between layers point down only', () => {
  const violations: string[] = [];
  for (const file of listSources(SRC)) {
    const from = layerOf(file);
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC + sep)) {
        violations.push(`${relative(SRC, file)} imports ${spec}, outside src/`);
        continue;
      }
      const to = layerOf(target);
      if (to === from) continue;
      if (!(ALLOWED_IMPORTS[from] ?? []).includes(to)) {
        violations.push(`${relative(SRC, file)} (${from}) imports ${spec} (${to})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('the pure ESP core imports no I/O module', () => {
  const IO_MODULES = ['node:dgram', 'node:net', 'node:fs', 'node:child_process', 'node:timers'];
  const offenders: string[] = [];
  for (const file of listSources(join(SRC, 'esp'))) {
    for (const spec of importsOf(file)) {
      if (IO_MODULES.includes(spec)) offenders.push(`${relative(SRC, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(offenders, []);
});
