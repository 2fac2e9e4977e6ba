import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CCMNI_IFACE,
  CMD_PREFIX,
  NETUTILS_RELEASES,
  OEM_IFACE,
  RELEASE_ALIASES,
  RELEASE_PATTERNS,
  RMNET_IFACE,
  SYSTEM_DIRNAME,
  VENDOR_CHAIN_FRAGMENTS,
  WWAN_IFACE,
} from '../../src/netutils/patterns.ts';
import { vendorChainGroup, vendorInterfaceGroup } from '../../src/netutils/rule_set.ts';
import { loadPatternsFile } from './_vectors.ts';

const file = loadPatternsFile();

test('RELEASE_PATTERNS is byte-identical to patterns.json for every release, in order', () => {
  assert.deepEqual(Object.keys(file.versions).sort(), [...NETUTILS_RELEASES].sort());
  for (const release of NETUTILS_RELEASES) {
    assert.deepEqual(RELEASE_PATTERNS[release], file.versions[release], release);
  }
});

test('the Android 15 list has 14 rules and rules 3 and 4 end in a significant space', () => {
  const rules = RELEASE_PATTERNS['15'];
  assert.equal(rules.length, 14);
  assert.ok(rules[2]!.endsWith('(oem|handle)[0-9]+ '));
  assert.ok(rules[3]!.endsWith('(enable|disable) '));
  for (const r of rules) assert.ok(r.startsWith(CMD_PREFIX), r);
});

test('the fragments equal the macros in patterns.json', () => {
  assert.equal(file.fragments.SYSTEM_DIRNAME, SYSTEM_DIRNAME);
  assert.equal(file.fragments.CMD, CMD_PREFIX);
  assert.equal(file.fragments.OEM_IFACE, OEM_IFACE);
  assert.equal(file.fragments.RMNET_IFACE, RMNET_IFACE);
  assert.equal(file.fragments['CCMNI_IFACE (Android 10+)'], CCMNI_IFACE);
  assert.equal(file.fragments['WWAN_IFACE (Android 14+)'], WWAN_IFACE);
  assert.equal(file.fragments.VENDOR_CHAIN, `(${VENDOR_CHAIN_FRAGMENTS.join('|')})`);
});

test('each release uses its VENDOR_IFACE in rules 2, 5, 7, 9, 10 and VENDOR_CHAIN in 6 and the -j rule', () => {
  for (const release of NETUTILS_RELEASES) {
    const rules = RELEASE_PATTERNS[release];
    const iface = vendorInterfaceGroup(release);
    const usingIface = rules.filter((r) => r.includes(iface)).length;
    assert.equal(usingIface, 5, `${release}: ${iface}`);
    assert.equal(rules.filter((r) => r.includes(vendorChainGroup())).length, 2, release);
  }
});

test('RELEASE_ALIASES maps every single release number to the list it shipped', () => {
  assert.equal(RELEASE_ALIASES['9'], '8.1-9');
  assert.equal(RELEASE_ALIASES['11'], '10-11');
  assert.equal(RELEASE_ALIASES['13'], '12-13');
  for (const target of Object.values(RELEASE_ALIASES))
    assert.ok(NETUTILS_RELEASES.includes(target));
});
