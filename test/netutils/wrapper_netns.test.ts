/**
 * The wrapper driving the real iproute2, iptables and tc inside a network namespace created
 * for this test (removed in `after`), on veth links named like vendor and framework interfaces. Tools are found in the default directories (/usr/sbin on
 * Debian), the same way an installed wrapper finds them.
 *
 * @requires root (network namespaces, iproute2, iptables, tc)
 */
import assert from 'node:assert/strict';
import { execFileSync, type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { findToolDir } from '../../src/netutils/tool_dir.ts';
import { createHarness, type Harness } from './_harness.ts';

const NS = `tsnetd-nu-${randomBytes(4).toString('hex')}`;
let h: Harness;
let config: string;

function ipNs(...args: string[]): string {
  return execFileSync('ip', ['-n', NS, ...args], { encoding: 'utf8' });
}

function inNs(cmd: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', NS, cmd, ...args], { encoding: 'utf8' });
}

function wrapped(name: string, args: readonly string[]): SpawnSyncReturns<string> {
  return spawnSync('ip', ['netns', 'exec', NS, process.execPath, h.link(name), ...args], {
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', NETUTILS_CONFIG: config },
    encoding: 'utf8',
    timeout: 20000,
  });
}

before(() => {
  h = createHarness();
  config = join(h.dir, 'netutils.json');
  writeFileSync(config, '{}');
  execFileSync('ip', ['netns', 'add', NS]);
  // veth pairs stand in for dummy links: this kernel has no dummy driver.
  for (const [i, link] of ['oem0', 'wlan0', 'rmnet_data0'].entries()) {
    ipNs('link', 'add', link, 'type', 'veth', 'peer', 'name', `peer${i}`);
    ipNs('link', 'set', link, 'up');
    ipNs('link', 'set', `peer${i}`, 'up');
  }
});

after(() => {
  try {
    execFileSync('ip', ['netns', 'del', NS]);
  } finally {
    h.cleanup();
  }
});

test('the real tools are found in a default directory', () => {
  for (const tool of ['ip', 'iptables', 'tc']) assert.ok(findToolDir(tool) !== undefined, tool);
});

test('ip-wrapper-1.0 addr add works on a vendor interface and is refused on wlan0', () => {
  const ok = wrapped('ip-wrapper-1.0', ['addr', 'add', '192.0.2.1/24', 'dev', 'oem0']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ipNs('addr', 'show', 'oem0'), /inet 192\.0\.2\.1\/24 /);

  const refused = wrapped('ip-wrapper-1.0', ['addr', 'add', '198.51.100.1/24', 'dev', 'wlan0']);
  assert.equal(refused.status, 1);
  assert.match(
    refused.stderr,
    /^NetUtilsWrapper: Unexpected command: \/\S+\/ip addr add 198\.51\.100\.1\/24 dev wlan0\n$/,
  );
  assert.doesNotMatch(ipNs('addr', 'show', 'wlan0'), /198\.51\.100\.1/);
});

test("the real tool's failure status and stderr come through unchanged", () => {
  const again = wrapped('ip-wrapper-1.0', ['addr', 'add', '192.0.2.1/24', 'dev', 'oem0']);
  const direct = spawnSync('ip', ['-n', NS, 'addr', 'add', '192.0.2.1/24', 'dev', 'oem0'], {
    encoding: 'utf8',
  });
  assert.notEqual(direct.status, 0);
  assert.equal(again.status, direct.status);
  assert.equal(again.stderr, direct.stderr);
});

test('iptables-wrapper-1.0 creates, fills, jumps to, flushes and deletes a vendor chain', () => {
  const steps = [
    ['-w', '-N', 'oem_tsnetd'],
    ['-w', '-A', 'oem_tsnetd', '-i', 'oem0', '-j', 'ACCEPT'],
    ['-w', '-C', 'oem_tsnetd', '-i', 'oem0', '-j', 'ACCEPT'],
    ['-w', '-A', 'INPUT', '-j', 'oem_tsnetd'],
  ];
  for (const args of steps) {
    const r = wrapped('iptables-wrapper-1.0', args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const rules = inNs('iptables', '-S');
  assert.match(rules, /^-N oem_tsnetd$/m);
  assert.match(rules, /^-A INPUT -j oem_tsnetd$/m);
  assert.match(rules, /^-A oem_tsnetd -i oem0 -j ACCEPT$/m);

  const refused = wrapped('iptables-wrapper-1.0', ['-w', '-F', 'INPUT']);
  assert.equal(refused.status, 1);
  assert.match(
    refused.stderr,
    /^NetUtilsWrapper: Unexpected command: \/\S+\/iptables -w -F INPUT\n$/,
  );
  assert.match(inNs('iptables', '-S'), /^-A INPUT -j oem_tsnetd$/m, 'INPUT was not flushed');

  for (const args of [
    ['-w', '-D', 'INPUT', '-j', 'oem_tsnetd'],
    ['-w', '-F', 'oem_tsnetd'],
    ['-w', '-X', 'oem_tsnetd'],
  ]) {
    const r = wrapped('iptables-wrapper-1.0', args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.doesNotMatch(inNs('iptables', '-S'), /oem_tsnetd/);
});

test('tc-wrapper-1.0 adds a root qdisc on rmnet_data0 and is refused on wlan0', () => {
  const ok = wrapped('tc-wrapper-1.0', [
    'qdisc',
    'add',
    'dev',
    'rmnet_data0',
    'root',
    'pfifo',
    'limit',
    '100',
  ]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(
    inNs('tc', 'qdisc', 'show', 'dev', 'rmnet_data0'),
    /qdisc pfifo \S+ root .*limit 100p/,
  );
  const refused = wrapped('tc-wrapper-1.0', ['qdisc', 'add', 'dev', 'wlan0', 'root', 'pfifo']);
  assert.equal(refused.status, 1);
  assert.doesNotMatch(inNs('tc', 'qdisc', 'show', 'dev', 'wlan0'), /pfifo/);
});

test('ip-wrapper-1.0 xfrm state runs the real ip with the same result as calling it directly', () => {
  const viaWrapper = wrapped('ip-wrapper-1.0', ['xfrm', 'state']);
  const direct = spawnSync('ip', ['netns', 'exec', NS, 'ip', 'xfrm', 'state'], {
    encoding: 'utf8',
  });
  assert.equal(viaWrapper.status, direct.status);
  assert.equal(viaWrapper.stdout, direct.stdout);
  assert.equal(viaWrapper.stderr, direct.stderr);
  assert.doesNotMatch(viaWrapper.stderr, /NetUtilsWrapper/);
});
