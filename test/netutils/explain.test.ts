import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainCommand, formatExplanation } from '../../src/netutils/explain.ts';
import { DEFAULT_RULE_SET } from '../../src/netutils/rule_set.ts';
import { loadDerivedCases, loadUpstreamCases } from './_vectors.ts';

test('explainCommand() names the rule that admitted an allowed command', () => {
  const e = explainCommand(DEFAULT_RULE_SET, ['/system/bin/ip6tables', '-w', '-F', 'nm_pre_ip4']);
  assert.ok(e.allowed);
  assert.equal(e.ruleIndex, 5);
  assert.equal(e.pattern, DEFAULT_RULE_SET.patterns[5]);
  assert.equal(
    formatExplanation(e),
    `allowed: /system/bin/ip6tables -w -F nm_pre_ip4\nrule R6: ${DEFAULT_RULE_SET.patterns[5]}\n`,
  );
});

test('explainCommand() shows where a refused command left the closest rule', () => {
  const argv = ['/system/bin/ip6tables', '-w', '-F', 'INPUT'];
  const e = explainCommand(DEFAULT_RULE_SET, argv);
  assert.ok(!e.allowed && e.reason === 'no-matching-rule');
  const first = e.closest[0]!;
  assert.equal(first.ruleIndex + 1, 6);
  assert.deepEqual(first.divergence, { argumentIndex: 3, offset: 0 });
  assert.equal(first.completion, 'nm_');
  const text = formatExplanation(e);
  assert.match(text, /^blocked: \/system\/bin\/ip6tables -w -F INPUT\n/);
  assert.match(text, /R6: .*\n {4}matches "\/system\/bin\/ip6tables -w -F ", then needs "nm_"\n/);
  assert.match(text, /first differing argument: argv\[3\] "INPUT" at character 0 \("I"\)/);
});

test('explainCommand() says when a command ends before the rule is satisfied', () => {
  const argv = ['/system/bin/ndc', 'network', 'interface', 'add', 'handle42966108894'];
  const e = explainCommand(DEFAULT_RULE_SET, argv);
  assert.ok(!e.allowed && e.reason === 'no-matching-rule');
  assert.equal(e.closest[0]!.ruleIndex + 1, 2);
  assert.equal(e.closest[0]!.divergence, undefined);
  assert.match(
    formatExplanation(e),
    /then the command ends; the rule needs at least " oem\[0-9\]" more/,
  );
});

test('explainCommand() reports the hardening refusal before any rule', () => {
  const argv = ['/system/bin/ip', 'xfrm', 'state\nx'];
  const e = explainCommand(DEFAULT_RULE_SET, argv);
  assert.ok(!e.allowed && e.reason === 'unsafe-argument');
  assert.equal(e.argumentIndex, 2);
  assert.match(formatExplanation(e), /argument 2 "state\\nx" is empty or contains whitespace/);
});

test('explainCommand() gives the same verdict as checkCommand() on every vector', () => {
  const all = [...loadUpstreamCases(), ...loadDerivedCases().filter((c) => c.release === '15')];
  for (const c of all) {
    const e = explainCommand(DEFAULT_RULE_SET, c.argv);
    assert.equal(e.allowed, c.allowed, c.argv.join(' '));
    if (!e.allowed && e.reason === 'no-matching-rule') assert.equal(e.closest.length, 3);
  }
});
