/**
 * Checks the project's conventions that can be read off the source text:
 * every file opens with a JSDoc header, no `any` or TypeScript suppressions in src/, error codes
 * are `ERR_<AREA>_<CONDITION>` with the area of the layer that defines them, and every layer
 * has a `mod.ts`.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { listSources } from './_sources.ts';

const SRC = resolve(import.meta.dirname, '../../src');

/** Error-code area of each layer (`ERR_<AREA>_…`). */
const ERROR_AREAS: Readonly<Record<string, readonly string[]>> = {
  esp: ['ESP'],
  datapath: ['DATAPATH'],
  kernel: ['KERNEL'],
  ipsec: ['IPSEC'],
  sys: ['SYS'],
  xfrm: ['XFRM'],
  netutils: ['NETUTILS'],
  netd: ['NETD'],
  cli: ['NETD', 'NETUTILS', 'IPSEC'],
};

const ERROR_CODE_REGEXP = /'(ERR_[A-Z0-9_]+)'/g;
const SUPPRESSION_REGEXP = /@ts-(ignore|expect-error|nocheck)|:\s*any\b|\bas any\b|<any>/;

const files = listSources(SRC);

test('every source file opens with a JSDoc header (after an optional shebang)', () => {
  const missing = files.filter((f) => {
    const text = readFileSync(f, 'utf8').replace(/^#!.*\n/, '');
    return !text.startsWith('/**');
  });
  assert.deepEqual(
    missing.map((f) => relative(SRC, f)),
    [],
  );
});

test('src/ has no any and no TypeScript suppressions', () => {
  const offenders: string[] = [];
  for (const f of files) {
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '');
        if (SUPPRESSION_REGEXP.test(code))
          offenders.push(`${relative(SRC, f)}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(offenders, []);
});

test('error codes are ERR_<AREA>_<CONDITION> with the area of the defining layer', () => {
  const offenders: string[] = [];
  for (const f of files) {
    const layer = relative(SRC, f).split(sep)[0] ?? '';
    const areas = ERROR_AREAS[layer] ?? [];
    for (const m of readFileSync(f, 'utf8').matchAll(ERROR_CODE_REGEXP)) {
      const code = m[1] ?? '';
      const ok = areas.some(
        (area) => code.startsWith(`ERR_${area}_`) && code.length > area.length + 5,
      );
      if (!ok) offenders.push(`${relative(SRC, f)}: ${code}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('every library layer has a mod.ts', () => {
  const layers = readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'cli')
    .map((e) => e.name);
  assert.deepEqual(
    layers.filter((l) => !existsSync(join(SRC, l, 'mod.ts'))),
    [],
  );
});
