import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCommand } from '../../src/netutils/check.ts';
import { RELEASE_PATTERNS } from '../../src/netutils/patterns.ts';
import { DEFAULT_RULE_SET, escapePattern, RuleSet } from '../../src/netutils/rule_set.ts';
import { loadUpstreamCases } from './_vectors.ts';

test('DEFAULT_RULE_SET holds the Android 15 strings unchanged', () => {
  assert.equal(DEFAULT_RULE_SET.release, '15');
  assert.equal(DEFAULT_RULE_SET.toolDir, '/system/bin');
  assert.deepEqual(DEFAULT_RULE_SET.patterns, RELEASE_PATTERNS['15']);
});

test('RuleSet.build() anchors every rule on the tool directory actually used', () => {
  const rs = RuleSet.build({ toolDir: '/usr/sbin' });
  assert.equal(rs.patterns[7], '^/usr/sbin/ip xfrm .*');
  assert.notEqual(rs.match('/usr/sbin/ip xfrm state'), -1);
  assert.equal(rs.match('/system/bin/ip xfrm state'), -1);
  assert.equal(rs.match('/usr/sbin/ipx xfrm state'), -1);
});

test('RuleSet.build() re-anchors the upstream cases: the same verdicts under /usr/sbin', () => {
  const rs = RuleSet.build({ toolDir: '/usr/sbin' });
  for (const c of loadUpstreamCases()) {
    const argv = c.argv.map((a, i) =>
      i === 0 && a.startsWith('/system/bin/') ? `/usr/sbin/${a.slice(12)}` : a,
    );
    assert.equal(checkCommand(rs, argv).allowed, c.allowed, argv.join(' '));
  }
});

test('RuleSet.build() escapes regex characters in the tool directory', () => {
  const rs = RuleSet.build({ toolDir: '/opt/net.tools+(x)' });
  assert.ok(rs.patterns[7]!.startsWith('^/opt/net\\.tools\\+\\(x\\)/ip '));
  assert.notEqual(rs.match('/opt/net.tools+(x)/ip xfrm state'), -1);
  // An unescaped "." would let any character through.
  assert.equal(rs.match('/opt/netXtools+(x)/ip xfrm state'), -1);
  assert.equal(escapePattern('a.b*c[d]^$\\'), 'a\\.b\\*c\\[d\\]\\^\\$\\\\');
});

test('RuleSet.build() extends only the vendor interface and vendor chain groups', () => {
  const rs = RuleSet.build({
    vendorInterfacePatterns: ['vnd[0-9]+'],
    vendorChainPatterns: ['vnd_.*'],
  });
  const changed = rs.patterns.filter((p, i) => p !== RELEASE_PATTERNS['15'][i]).length;
  assert.equal(changed, 7);
  assert.notEqual(rs.match('/system/bin/ip addr add 192.0.2.1/24 dev vnd3'), -1);
  assert.notEqual(rs.match('/system/bin/iptables -w -N vnd_chain'), -1);
  assert.notEqual(rs.match('/system/bin/iptables -w -A INPUT -j vnd_chain'), -1);
  assert.equal(rs.match('/system/bin/ip addr add 192.0.2.1/24 dev wlan0'), -1);
  assert.equal(DEFAULT_RULE_SET.match('/system/bin/ip addr add 192.0.2.1/24 dev vnd3'), -1);
});

test('RuleSet.build() selects an older release', () => {
  const rs = RuleSet.build({ release: '8.0' });
  assert.equal(rs.patterns.length, 16);
  assert.equal(rs.match('/system/bin/ndc network create handle1'), -1);
  assert.notEqual(rs.match('/system/bin/ip rule add prio 25000'), -1);
});
