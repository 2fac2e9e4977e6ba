import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EreMatcher } from '../../src/netutils/ere_matcher.ts';
import { NETUTILS_RELEASES, RELEASE_PATTERNS } from '../../src/netutils/patterns.ts';
import { loadDerivedCases, loadUpstreamCases } from './_vectors.ts';

test('EreMatcher agrees with RegExp on every rule of every release for every case', () => {
  const inputs = [
    ...loadUpstreamCases().map((c) => c.argv.join(' ')),
    ...loadDerivedCases().map((c) => c.argv.join(' ')),
  ];
  for (const release of NETUTILS_RELEASES) {
    for (const pattern of RELEASE_PATTERNS[release]) {
      const ere = EreMatcher.compile(pattern);
      const re = new RegExp(pattern, 's');
      for (const input of inputs) {
        assert.equal(ere.matches(input), re.test(input), `${pattern} on ${JSON.stringify(input)}`);
      }
    }
  }
});

test('EreMatcher.matches() searches: unanchored patterns match anywhere, anchors only at the ends', () => {
  assert.ok(EreMatcher.compile('b+c').matches('aabbbcd'));
  assert.ok(!EreMatcher.compile('^b').matches('ab'));
  assert.ok(!EreMatcher.compile('a$').matches('ab'));
  assert.ok(EreMatcher.compile('a.b').matches('a\nb'));
  assert.ok(EreMatcher.compile('x{2,3}y').matches('xxy'));
  assert.ok(!EreMatcher.compile('^x{2,3}y').matches('xy'));
  assert.ok(EreMatcher.compile('[^ ]*oem[0-9]+').matches('v_oem9'));
  assert.ok(EreMatcher.compile('[]a]').matches(']'));
  assert.ok(EreMatcher.compile('[a-]').matches('-'));
  assert.ok(EreMatcher.compile('\\.').matches('.'));
  assert.ok(!EreMatcher.compile('\\.').matches('x'));
});

test('EreMatcher.compile() rejects syntax whose meaning differs between ERE and JavaScript', () => {
  for (const bad of [
    '\\d',
    '\\1',
    '\\w',
    '[\\d]',
    '[[:alpha:]]',
    '(?:a)',
    '(?=a)',
    '(a',
    'a)',
    '*a',
    'a|',
    '()',
    'a{2,1}',
    'a{999}',
    'a{x}',
    '[a',
    '[z-a]',
    '^*',
  ]) {
    assert.throws(() => EreMatcher.compile(bad), SyntaxError, bad);
  }
});

test('EreMatcher.analyze() reports the viable prefix, the closest point and the completion', () => {
  const m = EreMatcher.compile(
    '^/system/bin/ip(6)?tables -w.* (-A|-C|-D|-F|-I|-N|-X) (oem_.*|nm_.*|qcom_.*)',
  );
  const input = '/system/bin/iptables -w -F INPUT';
  const a = m.analyze(input);
  assert.equal(a.matched, false);
  assert.equal(a.viablePrefixLength, input.length);
  assert.equal(a.closestOffset, input.indexOf('INPUT'));
  assert.equal(a.completion, 'nm_');
  const b = EreMatcher.compile('^/system/bin/ip xfrm .*').analyze('/system/bin/ip link show');
  assert.equal(b.viablePrefixLength, 15);
  assert.deepEqual(b.expected, ['"x"']);
  assert.equal(b.completion, 'xfrm ');
});

test('EreMatcher.matchesEmpty() and hasAnchors describe the pattern', () => {
  assert.ok(EreMatcher.compile('.*').matchesEmpty());
  assert.ok(!EreMatcher.compile('a.*').matchesEmpty());
  assert.ok(EreMatcher.compile('a$').hasAnchors);
  assert.ok(!EreMatcher.compile('[^ ]*a').hasAnchors);
});
