/**
 * The split between `npm test` and `npm run test:unit` (README, "Tests"): a test file that needs
 * root or the network says so with `@requires root` / `@requires network` in its header comment,
 * and `test:unit` (run as any user, offline) leaves it out. This test catches the usual ways a
 * file needs root — network namespaces, the qemu kernel peer, setpriv, a capture on an interface
 * — and npm talking to the registry, in files that do not say so.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { requirements, runsAlone } from '../../scripts/test-requirements.mjs';

const ROOT = resolve(import.meta.dirname, '../..');

/** Uses that need root (first) or the network (second). */
const NEEDS_ROOT =
  /\bip netns\b|'netns'|runInNetns\(|daemonSuite\(|new Netns\(|\bKernelPeer\b|'setpriv'|'-i', 'lo'/;
const NEEDS_NETWORK = /'npm',\s*\[\s*'(?:install|ci|pack)'/;

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return testFiles(path);
    return e.name.endsWith('.test.ts') ? [relative(ROOT, path)] : [];
  });
}

test('the header rule reads @requires lines of the first comment only', () => {
  assert.deepEqual(requirements('/**\n * x\n *\n * @requires root (namespaces)\n */\n'), ['root']);
  assert.deepEqual(requirements('/**\n * @requires network\n * @requires root\n */'), [
    'network',
    'root',
  ]);
  assert.deepEqual(requirements('/** x */\n// @requires root\n/**\n * @requires root\n */'), []);
  assert.deepEqual(requirements('import x;\n/**\n * @requires root\n */'), []);
});

test('the runner reads a @runs-alone line of the first comment only', () => {
  assert.equal(runsAlone('/**\n * Timing.\n *\n * @runs-alone (event-loop delay)\n */\n'), true);
  assert.equal(runsAlone('/**\n * Timing.\n */\n'), false);
  assert.equal(runsAlone('/** x */\n/**\n * @runs-alone\n */'), false);
  assert.equal(runsAlone('/**\n * see @runs-alone-ish\n */'), false);
});

test('every test file that needs root or the network says so in its header', () => {
  const missing: string[] = [];
  for (const file of testFiles(join(ROOT, 'test'))) {
    if (file === relative(ROOT, import.meta.filename)) continue; // names the patterns
    const text = readFileSync(join(ROOT, file), 'utf8');
    const declared = requirements(text);
    if ((file.startsWith('test/interop/') || NEEDS_ROOT.test(text)) && !declared.includes('root')) {
      missing.push(`${file}: @requires root`);
    }
    if (NEEDS_NETWORK.test(text) && !declared.includes('network')) {
      missing.push(`${file}: @requires network`);
    }
  }
  assert.deepEqual(missing, []);
});
