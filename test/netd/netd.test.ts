/**
 * tsnetd on the real kernel: a daemon process inside a fresh network namespace with links
 * oem0, rmnet_data0, wlan0, driven over its Unix socket. Every state check compares the full
 * `ip rule` / `ip route show table N` / `iptables -t mangle -S` lists, IPv4 and IPv6.
 *
 * @requires root (network namespaces, iproute2, iptables)
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import { sendCommand } from '../../src/netd/client.ts';
import { Daemon, daemonSuite, ndc } from './helpers/netns.ts';

let t0 = 0; // table of oem0
let t1 = 0; // table of rmnet_data0

const POLICIES = [
  '-P PREROUTING ACCEPT',
  '-P INPUT ACCEPT',
  '-P FORWARD ACCEPT',
  '-P OUTPUT ACCEPT',
  '-P POSTROUTING ACCEPT',
];
const ORIGINAL_RULES = {
  4: ['0: from all lookup local', '32766: from all lookup main', '32767: from all lookup default'],
  6: ['0: from all lookup local', '32766: from all lookup main'],
};

async function cmd(...words: string[]): Promise<string> {
  const lines = await sendCommand(socketPath, words);
  return lines.join('\n');
}

/** The base rules beside the host's own (`family` decides whether `32767 default` exists). */
function baseRules(family: 4 | 6 = 4, networks: readonly number[] = []): string[] {
  return [
    '0: from all lookup local',
    '10000: from all fwmark 0xc0000/0xd0000 lookup 99',
    '13000: from all fwmark 0x10063/0x1ffff iif lo lookup 97',
    '15000: from all fwmark 0/0x10000 lookup 99',
    '16000: from all fwmark 0/0x10000 lookup 98',
    '17000: from all fwmark 0/0x10000 lookup 97',
    '32000: from all fwmark 0x63/0xffff unreachable',
    ...networks.map((n) => `32000: from all fwmark 0x${n.toString(16)}/0xffff unreachable`),
    ...ORIGINAL_RULES[family].slice(1),
  ];
}

function sortRules(rules: string[]): string[] {
  // `ip rule` lists by priority, then insertion order; sort only by priority (stable).
  return [...rules].sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
}

const suite = daemonSuite('tsnetd-netd', ({ ns }) => {
  for (const link of ['oem0', 'rmnet_data0', 'wlan0']) ns.addLink(link);
  ns.exec('ip', ['addr', 'add', '192.0.2.2/24', 'dev', 'oem0']);
  // Non-default values the daemon must put back on shutdown.
  ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  ns.exec('sysctl', ['-qw', 'net.ipv4.conf.all.accept_redirects=1']);
  t0 = ns.ifindex('oem0') + 1000;
  t1 = ns.ifindex('rmnet_data0') + 1000;
});
const { ns, socketPath } = suite;

test('tsnetd creates its socket with mode 0660', () => {
  const st = statSync(socketPath);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
});

test('start-up adds the base rules beside the host rules, the mangle chain, and no sysctl change', () => {
  for (const family of [4, 6] as const) {
    assert.deepEqual(ns.rules(family), baseRules(family));
    assert.deepEqual(ns.mangle(family), [
      ...POLICIES,
      '-N routectrl_mangle_INPUT',
      '-A INPUT -j routectrl_mangle_INPUT',
    ]);
  }
  assert.equal(ns.sysctl('ipv4/ip_forward'), '1', 'host value kept');
  assert.equal(ns.sysctl('ipv6/conf/all/forwarding'), '0');
  assert.equal(ns.sysctl('ipv4/conf/all/accept_redirects'), '1', 'host value kept');
});

test('network create + interface add install the per-interface rules and marks (IPv4 and IPv6)', async () => {
  assert.equal(await cmd('network', 'create', 'oem1'), '200 0 success');
  assert.equal(await cmd('network', 'create', 'oem2', 'SYSTEM'), '200 0 success');
  assert.equal(await cmd('network', 'interface', 'add', 'oem1', 'oem0'), '200 0 success');
  assert.equal(await cmd('network', 'interface', 'add', 'oem2', 'rmnet_data0'), '200 0 success');
  assert.equal(
    await cmd('network', 'interface', 'add', 'oem1', 'oem0'),
    '200 0 success',
    'adding twice is a no-op',
  );
  assert.equal(await cmd('ipfwd', 'add', 'wlan0', 'oem0'), '200 0 ipfwd operation succeeded');
  const expected = (family: 4 | 6) =>
    sortRules([
      ...baseRules(family, [2, 3]),
      `10500: from all iif lo oif oem0 uidrange 0-0 lookup ${t0}`,
      `10500: from all fwmark 0xc0000/0xc0000 iif lo oif rmnet_data0 uidrange 0-0 lookup ${t1}`,
      `13000: from all fwmark 0x10002/0x1ffff iif lo lookup ${t0}`,
      `13000: from all fwmark 0xd0003/0xdffff iif lo lookup ${t1}`,
      `14000: from all iif lo oif oem0 lookup ${t0}`,
      `14000: from all fwmark 0xc0000/0xc0000 iif lo oif rmnet_data0 lookup ${t1}`,
      `18000: from all iif wlan0 lookup ${t0}`,
      `19000: from all fwmark 0x2/0x1ffff iif lo lookup ${t0}`,
    ]);
  for (const family of [4, 6] as const) {
    assert.deepEqual(ns.rules(family), expected(family), `IPv${family} rules`);
    assert.deepEqual(ns.mangle(family), [
      ...POLICIES,
      '-N routectrl_mangle_INPUT',
      '-A INPUT -j routectrl_mangle_INPUT',
      '-A routectrl_mangle_INPUT -i oem0 -j MARK --set-xmark 0x30002/0xffefffff',
      '-A routectrl_mangle_INPUT -i rmnet_data0 -j MARK --set-xmark 0xf0003/0xffefffff',
    ]);
  }
});

test('network route add puts v4 and v6 routes in the interface table, with and without next hop', async () => {
  const ok = '200 0 success';
  assert.equal(await cmd('network', 'route', 'add', 'oem1', 'oem0', '192.0.2.0/24'), ok);
  assert.equal(await cmd('network', 'route', 'add', 'oem1', 'oem0', '10.1.0.0/16'), ok);
  assert.equal(
    await cmd('network', 'route', 'add', 'oem1', 'oem0', '10.2.0.0/16', '192.0.2.1'),
    ok,
  );
  assert.equal(
    await cmd('network', 'route', 'add', 'oem1', 'oem0', '10.3.0.0/16', 'unreachable'),
    ok,
  );
  assert.equal(await cmd('network', 'route', 'add', 'oem1', 'oem0', '0.0.0.0/0', 'throw'), ok);
  assert.equal(
    await cmd('network', 'route', 'add', 'oem1', 'oem0', '10.1.0.0/16'),
    ok,
    'existing route is not an error',
  );
  assert.equal(await cmd('network', 'route', 'add', 'oem1', 'oem0', '2001:db8:1::/48'), ok);
  assert.equal(
    await cmd('network', 'route', 'add', 'oem1', 'oem0', '2001:db8:2::/48', 'fe80::1'),
    ok,
  );
  assert.equal(
    await cmd('network', 'route', 'add', 'oem1', 'oem0', '2001:db8:3::/48', 'unreachable'),
    ok,
  );
  assert.equal(await cmd('network', 'route', 'add', 'oem1', 'oem0', '::/0', 'throw'), ok);
  assert.equal(await cmd('network', 'route', 'add', 'oem2', 'rmnet_data0', '10.9.0.0/16'), ok);
  assert.deepEqual(ns.routes(4, t0), [
    'throw default proto static scope link metric 100000',
    '10.1.0.0/16 dev oem0 proto static scope link',
    '10.2.0.0/16 via 192.0.2.1 dev oem0 proto static',
    'unreachable 10.3.0.0/16 proto static scope link',
    '192.0.2.0/24 dev oem0 proto static scope link',
  ]);
  assert.deepEqual(ns.routes(6, t0), [
    '2001:db8:1::/48 dev oem0 proto static metric 1024 pref medium',
    '2001:db8:2::/48 via fe80::1 dev oem0 proto static metric 1024 pref medium',
    'unreachable 2001:db8:3::/48 dev lo proto static metric 1024 pref medium',
    'throw default dev lo proto static metric 100000 pref medium',
  ]);
  assert.deepEqual(ns.routes(4, t1), ['10.9.0.0/16 dev rmnet_data0 proto static scope link']);
  assert.deepEqual(ns.routes(6, t1), []);
});

test('network route remove deletes exactly that route', async () => {
  assert.equal(
    await cmd('network', 'route', 'remove', 'oem1', 'oem0', '10.2.0.0/16', '192.0.2.1'),
    '200 0 success',
  );
  assert.equal(
    await cmd('network', 'route', 'remove', 'oem1', 'oem0', '2001:db8:3::/48', 'unreachable'),
    '200 0 success',
  );
  assert.deepEqual(ns.routes(4, t0), [
    'throw default proto static scope link metric 100000',
    '10.1.0.0/16 dev oem0 proto static scope link',
    'unreachable 10.3.0.0/16 proto static scope link',
    '192.0.2.0/24 dev oem0 proto static scope link',
  ]);
  assert.deepEqual(ns.routes(6, t0), [
    '2001:db8:1::/48 dev oem0 proto static metric 1024 pref medium',
    '2001:db8:2::/48 via fe80::1 dev oem0 proto static metric 1024 pref medium',
    'throw default dev lo proto static metric 100000 pref medium',
  ]);
});

test('every failure of the network and ipfwd commands gets its reply', async () => {
  const cases: Array<[string[], string]> = [
    [['network'], '500 0 Missing argument'],
    [['network', 'frob'], '500 0 Unknown argument'],
    [['network', 'create'], '500 0 Missing argument'],
    [
      ['network', 'create', 'oem3', 'vpn', '1', '1'],
      '400 0 createVirtualNetwork() failed (Invalid argument)',
    ],
    [['network', 'create', 'oem3', 'NETWORK', 'x'], '500 0 Unknown trailing argument(s)'],
    [['network', 'create', 'oem3', 'ROOT'], '500 0 Unknown permission'],
    [['network', 'create', 'oem50'], '400 0 createPhysicalNetwork() failed (Invalid argument)'],
    [['network', 'create', 'handle42'], '400 0 createPhysicalNetwork() failed (Invalid argument)'],
    [['network', 'create', 'local'], '400 0 createPhysicalNetwork() failed (Invalid argument)'],
    [['network', 'create', 'oem1'], '400 0 createPhysicalNetwork() failed (File exists)'],
    [['network', 'destroy'], '500 0 Incorrect number of arguments'],
    [['network', 'destroy', 'oem1', 'x'], '500 0 Incorrect number of arguments'],
    [['network', 'destroy', 'local'], '400 0 destroyNetwork() failed (Invalid argument)'],
    [
      ['network', 'destroy', 'oem9'],
      '400 0 destroyNetwork() failed (Machine is not on the network)',
    ],
    [['network', 'interface', 'add', 'oem10'], '500 0 Missing argument'],
    [['network', 'interface', 'frob', 'oem1', 'oem0'], '500 0 Unknown argument'],
    [
      ['network', 'interface', 'add', 'oem9', 'oem0'],
      '400 0 addInterfaceToNetwork() failed (Machine is not on the network)',
    ],
    [
      ['network', 'interface', 'add', 'oem2', 'oem0'],
      '400 0 addInterfaceToNetwork() failed (Device or resource busy)',
    ],
    [
      ['network', 'interface', 'add', 'oem1', 'nosuch0'],
      '400 0 addInterfaceToNetwork() failed (No such process)',
    ],
    [
      ['network', 'interface', 'remove', 'oem9', 'oem0'],
      '400 0 removeInterfaceFromNetwork() failed (Machine is not on the network)',
    ],
    [['network', 'interface', 'remove', 'oem1', 'wlan0'], '200 0 success'],
    [['network', 'route', 'add', 'oem1', 'oem0'], '500 0 Incorrect number of arguments'],
    [
      ['network', 'route', 'add', 'oem1', 'oem0', 'a', 'b', 'c', 'd'],
      '500 0 Incorrect number of arguments',
    ],
    [
      ['network', 'route', 'legacy', '0', 'add', 'oem1', 'oem0'],
      '500 0 Incorrect number of arguments',
    ],
    [['network', 'route', 'frob', 'oem1', 'oem0', '10.0.0.0/8'], '500 0 Unknown argument'],
    [
      ['network', 'route', 'add', 'oem9', 'oem0', '10.0.0.0/8'],
      '400 0 addRoute() failed (Machine is not on the network)',
    ],
    [
      ['network', 'route', 'add', 'oem1', 'wlan0', '10.0.0.0/8'],
      '400 0 addRoute() failed (No such device)',
    ],
    [
      ['network', 'route', 'add', 'oem1', 'rmnet_data0', '10.0.0.0/8'],
      '400 0 addRoute() failed (No such file or directory)',
    ],
    [
      ['network', 'route', 'add', 'oem1', 'oem0', '10.0.0.0'],
      '400 0 addRoute() failed (Invalid argument)',
    ],
    [
      ['network', 'route', 'add', 'oem1', 'oem0', '10.0.0.0/33'],
      '400 0 addRoute() failed (Invalid argument)',
    ],
    [
      ['network', 'route', 'add', 'oem1', 'oem0', '10.0.0.0/8', 'fe80::1'],
      '400 0 addRoute() failed (Invalid argument)',
    ],
    [
      ['network', 'route', 'add', 'oem1', 'oem0', '10.0.0.1/8'],
      '400 0 addRoute() failed (Invalid argument)',
    ],
    [
      ['network', 'route', 'remove', 'oem1', 'oem0', '10.99.0.0/16'],
      '400 0 removeRoute() failed (No such process)',
    ],
    [
      ['network', 'route', 'remove', 'oem9', 'oem0', '10.99.0.0/16'],
      '400 0 removeRoute() failed (Machine is not on the network)',
    ],
    [['ipfwd'], '500 0 Unknown ipfwd cmd'],
    [['ipfwd', 'frob', 'x'], '500 0 Unknown ipfwd cmd'],
    [['ipfwd', 'status', 'x'], '500 0 Unknown ipfwd cmd'],
    [['ipfwd', 'add', 'wlan0'], '500 0 Unknown ipfwd cmd'],
    [['ipfwd', 'add', 'wlan0', 'nosuch0'], '400 0 ipfwd operation failed (No such process)'],
    [
      ['ipfwd', 'remove', 'oem0', 'wlan0'],
      '400 0 ipfwd operation failed (No such file or directory)',
    ],
    [['frob'], '500 0 Command not recognized'],
  ];
  const before4 = ns.rules(4);
  for (const [words, expected] of cases) {
    assert.equal(await cmd(...words), expected, words.join(' '));
  }
  assert.deepEqual(ns.rules(4), before4, 'failed commands leave no rule behind');
});

test('ndc prints every reply line and exits 0 on any final reply', async () => {
  const ok = await ndc(socketPath, ['ipfwd', 'status']);
  assert.deepEqual(ok, { code: 0, stdout: '211 0 Forwarding disabled\n', stderr: '' });
  const failed = await ndc(socketPath, ['network', 'destroy', 'oem9']);
  assert.deepEqual(failed, {
    code: 0,
    stdout: '400 0 destroyNetwork() failed (Machine is not on the network)\n',
    stderr: '',
  });
  const seq = await ndc(socketPath, ['42', 'network', 'frob']);
  assert.equal(seq.stdout, '500 42 Unknown argument\n');
});

test('ipfwd enable/disable drive the forwarding sysctls from the requester set; the last one gone restores the host values', async () => {
  const read = () => [ns.sysctl('ipv4/ip_forward'), ns.sysctl('ipv6/conf/all/forwarding')];
  // Host values the kernel would rewrite as a side effect of the forwarding switches.
  ns.exec('sysctl', [
    '-qw',
    'net.ipv4.conf.all.accept_redirects=1',
    'net.ipv6.conf.oem0.forwarding=1',
    'net.ipv4.conf.wlan0.forwarding=0',
    'net.ipv4.conf.default.forwarding=0',
  ]);
  const host = ns.forwardingSysctls();
  assert.equal(await cmd('ipfwd', 'enable', 'tethering'), '200 0 ipfwd operation succeeded');
  assert.deepEqual(read(), ['1', '1']);
  assert.equal(await cmd('ipfwd', 'enable', 'vendor'), '200 0 ipfwd operation succeeded');
  assert.equal(await cmd('ipfwd', 'enable', 'vendor'), '200 0 ipfwd operation succeeded');
  assert.equal(await cmd('ipfwd', 'disable', 'tethering'), '200 0 ipfwd operation succeeded');
  assert.deepEqual(read(), ['1', '1'], 'one requester left');
  assert.equal(await cmd('ipfwd', 'status'), '211 0 Forwarding enabled');
  ns.exec('sysctl', [
    '-qw',
    'net.ipv4.conf.oem0.accept_redirects=1',
    'net.ipv6.conf.wlan0.accept_redirects=1',
  ]);
  assert.equal(await cmd('ipfwd', 'disable', 'vendor'), '200 0 ipfwd operation succeeded');
  assert.equal(await cmd('ipfwd', 'status'), '211 0 Forwarding disabled');
  // Every value as the host had it before the first request (the test's own writes while
  // forwarding was on are undone too: they were not the host's values before tsnetd changed them).
  assert.deepEqual(ns.forwardingSysctls(), host);
  assert.equal(await cmd('ipfwd', 'disable', 'never-enabled'), '200 0 ipfwd operation succeeded');
  assert.deepEqual(ns.forwardingSysctls(), host);
});

test('interface remove deletes its rules and mark, flushes its table and its tethering rules', async () => {
  assert.equal(await cmd('ipfwd', 'add', 'oem0', 'rmnet_data0'), '200 0 ipfwd operation succeeded');
  assert.equal(await cmd('network', 'interface', 'remove', 'oem1', 'oem0'), '200 0 success');
  // The tethering rules into oem0's table go too: nothing of the old table remains.
  const expected = (family: 4 | 6) =>
    sortRules([
      ...baseRules(family, [2, 3]),
      `10500: from all fwmark 0xc0000/0xc0000 iif lo oif rmnet_data0 uidrange 0-0 lookup ${t1}`,
      `13000: from all fwmark 0xd0003/0xdffff iif lo lookup ${t1}`,
      `14000: from all fwmark 0xc0000/0xc0000 iif lo oif rmnet_data0 lookup ${t1}`,
    ]);
  for (const family of [4, 6] as const) {
    assert.deepEqual(ns.rules(family), expected(family), `IPv${family} rules`);
    assert.deepEqual(ns.routes(family, t0), [], `IPv${family} table ${t0} flushed`);
    assert.deepEqual(ns.mangle(family), [
      ...POLICIES,
      '-N routectrl_mangle_INPUT',
      '-A INPUT -j routectrl_mangle_INPUT',
      '-A routectrl_mangle_INPUT -i rmnet_data0 -j MARK --set-xmark 0xf0003/0xffefffff',
    ]);
  }
  assert.equal(
    await cmd('ipfwd', 'remove', 'wlan0', 'oem0'),
    '400 0 ipfwd operation failed (No such file or directory)',
    'already removed with the interface',
  );
  assert.equal(await cmd('network', 'destroy', 'oem1'), '200 0 success');
  assert.equal(
    await cmd('network', 'interface', 'add', 'oem1', 'oem0'),
    '400 0 addInterfaceToNetwork() failed (Machine is not on the network)',
  );
});

test('an iptables failure is EREMOTEIO and leaves nothing half installed', async () => {
  assert.equal(await cmd('network', 'create', 'oem5'), '200 0 success');
  // Break IPv6 only: the IPv4 mark goes in first and must be rolled back.
  ns.exec('ip6tables', ['-w', '-t', 'mangle', '-D', 'INPUT', '-j', 'routectrl_mangle_INPUT']);
  ns.exec('ip6tables', ['-w', '-t', 'mangle', '-F', 'routectrl_mangle_INPUT']);
  ns.exec('ip6tables', ['-w', '-t', 'mangle', '-X', 'routectrl_mangle_INPUT']);
  const before4 = ns.rules(4);
  const beforeMangle4 = ns.mangle(4);
  assert.equal(
    await cmd('network', 'interface', 'add', 'oem5', 'wlan0'),
    '400 0 addInterfaceToNetwork() failed (Remote I/O error)',
  );
  assert.deepEqual(ns.rules(4), before4);
  assert.deepEqual(ns.mangle(4), beforeMangle4);
  // Repair for the shutdown test.
  ns.exec('ip6tables', ['-w', '-t', 'mangle', '-N', 'routectrl_mangle_INPUT']);
  ns.exec('ip6tables', ['-w', '-t', 'mangle', '-A', 'INPUT', '-j', 'routectrl_mangle_INPUT']);
  ns.exec('ip6tables', [
    '-w',
    '-t',
    'mangle',
    '-A',
    'routectrl_mangle_INPUT',
    '-i',
    'rmnet_data0',
    '-j',
    'MARK',
    '--set-mark',
    '0xf0003/0xffefffff',
  ]);
});

test('a second daemon on the same socket refuses to start and changes nothing', async () => {
  const rules = ns.rules(4);
  const second = Daemon.spawn(ns, socketPath);
  assert.equal(await second.exited(), 3);
  assert.match(second.stderr, /another daemon is already running/);
  assert.deepEqual(ns.rules(4), rules);
  assert.equal(
    await cmd('ipfwd', 'status'),
    '211 0 Forwarding disabled',
    'the first one still answers',
  );
});

test('SIGTERM removes every rule, route, mark and chain, restores sysctls and removes the socket', async () => {
  assert.equal(await cmd('ipfwd', 'enable', 'left-on'), '200 0 ipfwd operation succeeded');
  assert.equal(
    await cmd('ipfwd', 'add', 'wlan0', 'rmnet_data0'),
    '200 0 ipfwd operation succeeded',
  );
  assert.equal(await cmd('network', 'interface', 'add', 'local', 'wlan0'), '200 0 success');
  assert.equal(
    await cmd('network', 'route', 'add', 'local', 'wlan0', '10.77.0.0/16'),
    '200 0 success',
  );
  assert.deepEqual(ns.routes(4, 97), ['10.77.0.0/16 dev wlan0 proto static scope link']);
  assert.equal(await suite.daemon.stop(), 0);
  assert.doesNotMatch(suite.daemon.stderr, /clean-up:/);
  for (const family of [4, 6] as const) {
    assert.deepEqual(ns.rules(family), ORIGINAL_RULES[family], `IPv${family} rules restored`);
    assert.deepEqual(ns.mangle(family), POLICIES, `IPv${family} mangle empty`);
    for (const table of [97, 98, 99, t0, t1])
      assert.deepEqual(ns.routes(family, table), [], `table ${table}`);
  }
  assert.equal(ns.sysctl('ipv4/ip_forward'), '1', 'original value restored');
  assert.equal(ns.sysctl('ipv6/conf/all/forwarding'), '0');
  assert.equal(ns.sysctl('ipv4/conf/all/accept_redirects'), '1');
  assert.throws(() => statSync(socketPath), { code: 'ENOENT' });
});
