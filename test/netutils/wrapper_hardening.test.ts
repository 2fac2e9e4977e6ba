/**
 * Security review of the wrapper (its allow-list check and rules): bounded check time, config
 * fragments that would widen the allow-list to framework names or blow up the regex engine,
 * and the root-only tool trust check. Real processes through the built wrapper where it matters.
 *
 * @requires root (root-owned tool directories, chown)
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { checkCommand, MAX_ARGUMENTS, MAX_COMMAND_LENGTH } from '../../src/netutils/check.ts';
import { parseNetutilsConfig } from '../../src/netutils/config.ts';
import { InvalidConfigError, UntrustedToolError } from '../../src/netutils/errors.ts';
import { DEFAULT_RULE_SET, RuleSet } from '../../src/netutils/rule_set.ts';
import { assertTrustedTool } from '../../src/netutils/tool_dir.ts';
import { createHarness, type Harness } from './_harness.ts';

let h: Harness;
before(() => {
  h = createHarness();
});
after(() => h.cleanup());

function timed<T>(f: () => T): { value: T; ms: number } {
  const t = performance.now();
  const value = f();
  return { value, ms: performance.now() - t };
}

test('review: a 128 KiB argument is refused at once, not after seconds of backtracking', () => {
  // R5 `ipfwd (add|remove) .*([^ ]*oem…` is quadratic in V8: 128 KiB took 8.6 s before the bound.
  const argv = ['/system/bin/ndc', 'ipfwd', 'add', 'a'.repeat(128 * 1024)];
  const { value, ms } = timed(() => checkCommand(DEFAULT_RULE_SET, argv));
  assert.equal(value.allowed, false);
  assert.ok(!value.allowed && value.reason === 'too-long');
  assert.ok(ms < 200, `check took ${ms.toFixed(1)} ms`);
});

test('review: command length and argument count limits, exactly at the boundary ±1', () => {
  const base = ['/system/bin/ip', 'xfrm', 'state', 'add'];
  const baseLength = base.join(' ').length;
  const pad = (n: number): string[] => [...base, 'x'.repeat(n - baseLength - 1)];
  const atLimit = checkCommand(DEFAULT_RULE_SET, pad(MAX_COMMAND_LENGTH));
  assert.equal(atLimit.command.length, MAX_COMMAND_LENGTH);
  assert.equal(atLimit.allowed, true);
  const over = checkCommand(DEFAULT_RULE_SET, pad(MAX_COMMAND_LENGTH + 1));
  assert.ok(!over.allowed && over.reason === 'too-long');
  const many = (n: number): string[] => [...base, ...Array(n - base.length).fill('x')];
  assert.equal(checkCommand(DEFAULT_RULE_SET, many(MAX_ARGUMENTS)).allowed, true);
  const tooMany = checkCommand(DEFAULT_RULE_SET, many(MAX_ARGUMENTS + 1));
  assert.ok(!tooMany.allowed && tooMany.reason === 'too-long');
});

test('review: the built wrapper refuses an over-long command with one bounded stderr line', () => {
  h.clearMarks();
  const r = h.run('ndc-wrapper-1.0', ['ipfwd', 'add', `${'a'.repeat(100_000)}oem1`]);
  assert.equal(r.status, 1);
  assert.equal(h.ran('ndc'), undefined);
  assert.match(r.stderr, /^NetUtilsWrapper: Unexpected command: .*…\n$/);
  assert.ok(r.stderr.length < MAX_COMMAND_LENGTH + 100, `stderr is ${r.stderr.length} bytes`);
});

test('review: config fragments that match framework names are refused (.+, [^ ]+, w.*, I)', () => {
  const bad: Array<[string, string, string]> = [
    ['vendorInterfacePatterns', '.+', 'lo'],
    ['vendorInterfacePatterns', '[^ ]+', 'lo'],
    ['vendorInterfacePatterns', '[a-z]+[0-9]*', 'lo'],
    ['vendorInterfacePatterns', 'w.*', 'wlan0'],
    ['vendorInterfacePatterns', 'rmnet[0-9]', 'rmnet0'],
    ['vendorChainPatterns', '.+', 'INPUT'],
    ['vendorChainPatterns', 'I', 'INPUT'],
    ['vendorChainPatterns', '[A-Z]+', 'INPUT'],
    ['vendorChainPatterns', 'routectrl_.*', 'routectrl_mangle_INPUT'],
  ];
  for (const [key, fragment, name] of bad) {
    assert.throws(
      () => parseNetutilsConfig(JSON.stringify({ [key]: [fragment] }), 'inline'),
      (err: unknown) =>
        err instanceof InvalidConfigError &&
        err.message.includes(`matches the framework name ${JSON.stringify(name)}`),
      `${key} ${fragment}`,
    );
  }
  // Vendor-looking fragments still pass.
  const ok = parseNetutilsConfig(
    JSON.stringify({ vendorInterfacePatterns: ['vnd[0-9]+'], vendorChainPatterns: ['vnd_.*'] }),
    'inline',
  );
  assert.deepEqual(ok.vendorInterfacePatterns, ['vnd[0-9]+']);
});

test('review: a catastrophic-backtracking fragment cannot stall the check (linear-time engine)', () => {
  const config = parseNetutilsConfig(
    JSON.stringify({ vendorInterfacePatterns: ['(v|vv)+x'], vendorChainPatterns: ['(vnd_+)+z'] }),
    'inline',
  );
  const rules = RuleSet.build({
    vendorInterfacePatterns: config.vendorInterfacePatterns,
    vendorChainPatterns: config.vendorChainPatterns,
  });
  // With RegExp backtracking, 60 'v's take longer than the age of the universe.
  const argv = ['/system/bin/ip', 'addr', 'add', 'dev', 'v'.repeat(60)];
  const { value, ms } = timed(() => checkCommand(rules, argv));
  assert.equal(value.allowed, false);
  assert.ok(ms < 500, `check took ${ms.toFixed(1)} ms`);
  const chainArgv = ['/system/bin/iptables', '-w', '-F', `vnd${'_'.repeat(60)}`];
  assert.equal(checkCommand(rules, chainArgv).allowed, false);
  // Same verdicts as before for the matching inputs.
  assert.equal(checkCommand(rules, [...argv.slice(0, 4), 'vvvx']).allowed, true);
  assert.equal(checkCommand(rules, ['/system/bin/iptables', '-w', '-F', 'vnd__z']).allowed, true);
  // Worst case at the length bound stays well under the start-up cost of the wrapper.
  const worst = ['/system/bin/ip', 'addr', 'add', 'dev', 'v'.repeat(MAX_COMMAND_LENGTH - 40)];
  const w = timed(() => checkCommand(rules, worst));
  assert.ok(w.ms < 1000, `worst case took ${w.ms.toFixed(1)} ms`);
});

test('review: as root, a group/world-writable or non-root tool or tool dir is not run', () => {
  const dir = join(h.dir, 'untrusted');
  mkdirSync(dir, { mode: 0o755 });
  const tool = join(dir, 'ip');
  writeFileSync(tool, '#!/bin/sh\ntouch "$NU_MARK_DIR/untrusted.ran"\n', { mode: 0o755 });
  chmodSync(tool, 0o755);
  const run = () => h.run('ip-wrapper-1.0', ['xfrm', 'state'], { NETUTILS_BIN_DIR: dir });
  // Baseline: trusted (root-owned 0755 in a root-owned 0755 dir under sticky /tmp) runs.
  h.clearMarks();
  assert.equal(run().status, 0);
  const cases: Array<[string, () => void, () => void, RegExp]> = [
    ['dir 0777', () => chmodSync(dir, 0o777), () => chmodSync(dir, 0o755), /writable by group/],
    ['dir 0775', () => chmodSync(dir, 0o775), () => chmodSync(dir, 0o755), /writable by group/],
    ['tool o+w', () => chmodSync(tool, 0o757), () => chmodSync(tool, 0o755), /writable by/],
    ['tool uid', () => chownSync(tool, 1000, 0), () => chownSync(tool, 0, 0), /owned by uid 1000/],
    ['dir uid', () => chownSync(dir, 1000, 0), () => chownSync(dir, 0, 0), /owned by uid 1000/],
  ];
  for (const [name, spoil, restore, reason] of cases) {
    spoil();
    try {
      h.clearMarks();
      const r = run();
      assert.equal(r.status, 1, name);
      assert.match(r.stderr, /^NetUtilsWrapper: Cannot run "/, name);
      assert.match(r.stderr, reason, name);
      assert.equal(h.ran('untrusted'), undefined, name);
    } finally {
      restore();
    }
  }
});

test('review: a symlinked tool is judged by its real file too', () => {
  const dir = join(h.dir, 'linkdir');
  const evilDir = join(h.dir, 'evil');
  mkdirSync(dir, { mode: 0o755 });
  mkdirSync(evilDir, { mode: 0o777 });
  chmodSync(evilDir, 0o777);
  writeFileSync(join(evilDir, 'ip'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  symlinkSync(join(evilDir, 'ip'), join(dir, 'ip'));
  assert.throws(
    () => assertTrustedTool(join(dir, 'ip'), 0),
    (err: unknown) => err instanceof UntrustedToolError && err.offender === evilDir,
  );
  // Not root: nothing is judged.
  assertTrustedTool(join(dir, 'ip'), 1000);
  // A stock tool passes.
  assertTrustedTool('/usr/sbin/ip', 0);
});
