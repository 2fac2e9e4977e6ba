/**
 * The repository explains itself: no source file, document or test points a reader at a file
 * that is not in the repository (design notes, research notes, sibling folders), and every `§`
 * section sign belongs to a citation of a published document on the same line (`RFC 4303 §3.4`,
 * `draft-ietf-opsawg-pcap §4`). Facts from elsewhere are written out in the project's own words.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const SCANNED = ['src', 'docs', 'README.md', 'test', 'bench', 'scripts', 'examples'];
const EXTENSIONS = /\.(ts|mts|mjs|js|md|json|txt)$/;
/** This file names the patterns it looks for. */
const SELF = relative(ROOT, import.meta.filename);

/** Names of files outside the repository that earlier text cited. */
const FORBIDDEN: readonly RegExp[] = [
  /DESIGN\.md/,
  /aosp-(ipsec|netutils)/,
  /style[- ]anchors/i,
  /esp-rules/,
  /\.\.\/shared\b/,
  /\bshared\/spec\b/,
  /\bspec\/[\w-]+\.(md|json)\b/,
];

/** A published document a section sign may follow on the same line. */
const CITATION = /RFC ?\d+|draft-[a-z0-9-]+/g;
/** What may stand between a citation (or an accepted `§`) and the next `§`: a short list gap. */
const LIST_GAP = /^[^(]{0,24}$/;

/** Whether each `§` of `line` continues a citation: `RFC 4303 §2.2.1, §3.3.3` yes, `(§4.2)` no. */
function sectionsCited(line: string): boolean {
  const anchors = [...line.matchAll(CITATION)].map((m) => (m.index ?? 0) + m[0].length);
  let last = -1;
  for (let at = line.indexOf('§'); at !== -1; at = line.indexOf('§', at + 1)) {
    for (const end of anchors) if (end <= at && end > last) last = end;
    if (last === -1 || !LIST_GAP.test(line.slice(last, at))) return false;
    last = at + 1;
  }
  return true;
}

function files(path: string): string[] {
  const full = join(ROOT, path);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [path];
  const out: string[] = [];
  for (const entry of readdirSync(full, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    out.push(...files(join(path, entry.name)));
  }
  return out;
}

const SCANNED_FILES = SCANNED.flatMap(files).filter((f) => EXTENSIONS.test(f) && f !== SELF);

/** Every offending line of `text`, as `path:line: text`. */
export function externalReferences(path: string, text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    const where = `${path}:${i + 1}: ${line.trim()}`;
    if (FORBIDDEN.some((re) => re.test(line))) {
      found.push(where);
      return;
    }
    if (!sectionsCited(line)) found.push(where);
  });
  return found;
}

test('the scan covers src/, docs/, README.md and test/', () => {
  for (const prefix of ['src/', 'docs/', 'test/']) {
    assert.ok(
      SCANNED_FILES.some((f) => f.startsWith(prefix)),
      `no file scanned under ${prefix}`,
    );
  }
  assert.ok(SCANNED_FILES.includes('README.md'));
});

test('the check recognises each kind of outside reference and accepts RFC citations', () => {
  const bad = [
    'see DESIGN.md "Speed"',
    '(aosp-ipsec §5)',
    'the rules of aosp-netutils.md',
    'style-anchors §6.5',
    'esp-rules-and-oracles.md',
    "resolve('../shared/spec/x.json')",
    'a copy of shared/spec/netutils-patterns.json',
    'as spec/notes.md says',
    'the framing (§4.2)',
    'RFC 4303 §2.4 and also (§1.2)',
    'RFC 4303 says so, but the framing of our notes (§1.2)',
  ];
  for (const line of bad) assert.equal(externalReferences('x', line).length, 1, line);
  const good = [
    'RFC 4303 §3.4.3',
    'RFC 4303 §2.4; RFC 4106 §3.2 for AEAD',
    'RFC 3566 §4 / §5: ESP uses the first 96 bits',
    'draft-ietf-opsawg-pcap, §4 file header, §5 packet',
    'krypt/krypt-cmac spec/support/reference_samples.rb',
  ];
  for (const line of good) assert.deepEqual(externalReferences('x', line), [], line);
});

test('no file cites a file outside the repository or an uncited section number', () => {
  const found = SCANNED_FILES.flatMap((f) =>
    externalReferences(f, readFileSync(join(ROOT, f), 'utf8')),
  );
  assert.deepEqual(found, []);
});
