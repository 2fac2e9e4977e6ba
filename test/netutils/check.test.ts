import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { checkCommand, findUnsafeArgument, printableCommand } from '../../src/netutils/check.ts';
import { DEFAULT_RULE_SET, RuleSet } from '../../src/netutils/rule_set.ts';
import { loadDerivedCases, loadUpstreamCases } from './_vectors.ts';

const upstream = loadUpstreamCases();
const derived = loadDerivedCases();

test('cases.json holds the 22 upstream cases (16 allowed, 6 blocked)', () => {
  assert.equal(upstream.length, 22);
  assert.equal(upstream.filter((c) => c.allowed).length, 16);
});

for (const [i, c] of upstream.entries()) {
  const label = `upstream case ${i + 1}: ${c.argv.join(' ')} is ${c.allowed ? 'allowed' : 'blocked'}`;
  test(`checkCommand() ${label}`, () => {
    const verdict = checkCommand(DEFAULT_RULE_SET, c.argv);
    assert.equal(verdict.allowed, c.allowed, label);
    assert.equal(verdict.command, c.argv.join(' '));
  });
}

test('checkCommand() admits the upstream cases by the rules that admit them on Android', () => {
  const expected: Record<string, number> = {
    '/system/bin/tc qdisc del dev root': 11,
    '/system/bin/ip -6 addr add dev r_rmnet_data6 2001:db8::/64': 10,
    '/system/bin/ip6tables -w -A INPUT -j qcom_foo': 12,
    '/system/bin/ip6tables -w -A INPUT -i rmnet_data9 -j routectrl_MANGLE_INPUT': 7,
    '/system/bin/ip6tables -w -F nm_pre_ip4': 6,
    '/system/bin/ndc network interface add oem10': 14,
    '/system/bin/ndc network interface add oem10 v_oem9': 2,
    '/system/bin/ip xfrm state': 8,
  };
  for (const [command, rule] of Object.entries(expected)) {
    const verdict = checkCommand(DEFAULT_RULE_SET, command.split(' '));
    assert.ok(verdict.allowed, command);
    assert.equal(verdict.ruleIndex + 1, rule, command);
  }
});

const ruleSets = new Map<string, RuleSet>();
function ruleSetFor(release: (typeof derived)[number]['release']): RuleSet {
  let rs = ruleSets.get(release);
  if (rs === undefined) {
    rs = RuleSet.build({ release });
    ruleSets.set(release, rs);
  }
  return rs;
}

test('derived cases cover both verdicts of every Android 15 rule', () => {
  for (let rule = 1; rule <= 14; rule++) {
    assert.ok(
      derived.some((c) => c.release === '15' && c.rule === rule && c.allowed),
      `an allowed case for R${rule}`,
    );
    assert.ok(
      derived.some((c) => c.release === '15' && !c.allowed && c.id.startsWith(`r${rule}-`)),
      `a blocked case for R${rule}`,
    );
  }
});

for (const c of derived) {
  const label = `derived ${c.id} (Android ${c.release}) is ${c.allowed ? `allowed by R${c.rule}` : 'blocked'}`;
  test(`checkCommand() ${label}`, () => {
    const verdict = checkCommand(ruleSetFor(c.release), c.argv);
    assert.equal(verdict.allowed, c.allowed, label);
    if (verdict.allowed) assert.equal(verdict.ruleIndex + 1, c.rule, label);
    if (c.regexAllows === true) {
      // The joined-argv ambiguity: the AOSP check alone would let this through.
      assert.notEqual(
        ruleSetFor(c.release).match(c.argv.join(' ')),
        -1,
        `${label}: regex alone allows`,
      );
      assert.ok(!verdict.allowed && verdict.reason === 'unsafe-argument', label);
    }
  });
}

test('checkCommand() refuses an argument with a space even though the joined text matches R10', () => {
  const argv = ['/system/bin/ip', 'addr', 'add', '192.0.2.1/24', 'dev', 'wlan0', 'x dev oem0'];
  assert.equal(DEFAULT_RULE_SET.match(argv.join(' ')), 9);
  const verdict = checkCommand(DEFAULT_RULE_SET, argv);
  assert.deepEqual(verdict, {
    allowed: false,
    command: argv.join(' '),
    reason: 'unsafe-argument',
    argumentIndex: 6,
  });
});

test('findUnsafeArgument() flags whitespace, controls, NUL and empty arguments, nothing else', () => {
  for (const bad of [
    ' ',
    'a b',
    '\t',
    '\n',
    '\r',
    '\v',
    '\f',
    '\0',
    '\u0085',
    '\u00a0',
    '\u2028',
    '\u3000',
    '\u001b',
    '\u007f',
    '',
  ]) {
    assert.equal(findUnsafeArgument(['/system/bin/ip', bad]), 1, JSON.stringify(bad));
  }
  for (const good of [
    'oem0',
    '$(reboot)',
    ';',
    '`id`',
    '|',
    '&&',
    '>x',
    '*',
    "'",
    '"',
    '\\',
    'é',
    '2001:db8::/64',
  ]) {
    assert.equal(findUnsafeArgument(['/system/bin/ip', good]), -1, JSON.stringify(good));
  }
});

test('printableCommand() keeps ordinary commands byte-identical and escapes line breaks', () => {
  assert.equal(printableCommand('/system/bin/ip link show lo'), '/system/bin/ip link show lo');
  assert.equal(printableCommand('a\nb\0c\u2028'), 'a\\x0ab\\x00c\\u2028');
});

test('the RegExp verdicts agree with GNU grep -E (POSIX ERE) on every case and release', () => {
  const all = [
    ...upstream.map((c) => ({ release: '15' as const, argv: c.argv })),
    ...derived
      .filter((c) => c.regexAllows !== true)
      .map((c) => ({ release: c.release, argv: c.argv })),
  ];
  for (const c of all) {
    const rs = ruleSetFor(c.release);
    const command = c.argv.join(' ');
    const grep = spawnSync('grep', ['-E', '-q', ...rs.patterns.flatMap((p) => ['-e', p])], {
      input: `${command}\n`,
      env: { LC_ALL: 'C' },
    });
    assert.ok(grep.status === 0 || grep.status === 1, `grep failed: ${grep.stderr}`);
    assert.equal(rs.match(command) !== -1, grep.status === 0, `${c.release}: ${command}`);
  }
});
