/**
 * Coexistence proof: a "host" namespace whose default routes (IPv4 and IPv6) lead through a
 * veth link to a second namespace acting as the upstream, with an operator rule of its own. An
 * established TCP connection (echoing every 50 ms) and `ping`/`ping -6` through the default
 * route must keep working while tsnetd starts, OEM networks come and go (interfaces, routes,
 * an OEM default route, the local network, ipfwd enable/add/remove/disable), on SIGTERM,
 * SIGKILL and restart; after each clean stop the namespace is exactly as before (`ip rule`,
 * `ip -6 rule`, every route of every table, iptables-save, ip6tables-save, every forwarding and
 * accept_redirects sysctl).
 *
 * @requires root (network namespaces, veth, iptables, ping)
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sendCommand } from '../../src/netd/client.ts';
import { Daemon, Netns, tempDir } from './helpers/netns.ts';

const host = new Netns('tsnetd-coh');
const upstream = new Netns('tsnetd-cou');
const dir = tempDir();
const FAR4 = '203.0.113.1';
const FAR6 = '2001:db8:ff::1';
const PORT = 7777;
let server: ChildProcess | undefined;
let client: ChildProcess | undefined;
let echoes = 0;
let failure = '';

const SERVER = `require('net').createServer((s) => s.pipe(s)).listen(${PORT}, '${FAR4}', () => console.log('ready'));`;
const CLIENT = `
const s = require('net').connect(${PORT}, '${FAR4}');
let n = 0;
s.setEncoding('utf8');
s.on('connect', () => setInterval(() => s.write('x\\n'), 50));
s.on('data', (d) => { n += d.length / 2; console.log('ok ' + n); });
s.on('error', (e) => { console.log('FAIL ' + e.message); process.exit(1); });
s.on('close', () => { console.log('FAIL closed'); process.exit(1); });
`;

function nodeIn(ns: Netns, script: string): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

before(async () => {
  host.exec('ip', [
    'link',
    'add',
    'up0',
    'type',
    'veth',
    'peer',
    'name',
    'up0p',
    'netns',
    upstream.name,
  ]);
  host.exec('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'up0']);
  host.exec('ip', ['addr', 'add', '2001:db8:f::2/64', 'dev', 'up0', 'nodad']);
  host.exec('ip', ['link', 'set', 'up0', 'up']);
  upstream.exec('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'up0p']);
  upstream.exec('ip', ['addr', 'add', '2001:db8:f::1/64', 'dev', 'up0p', 'nodad']);
  upstream.exec('ip', ['link', 'set', 'up0p', 'up']);
  upstream.exec('ip', ['addr', 'add', `${FAR4}/32`, 'dev', 'lo']);
  upstream.exec('ip', ['addr', 'add', `${FAR6}/128`, 'dev', 'lo']);
  host.exec('ip', ['route', 'add', 'default', 'via', '198.51.100.1', 'proto', 'static']);
  host.exec('ip', ['-6', 'route', 'add', 'default', 'via', '2001:db8:f::1', 'proto', 'static']);
  // The host's own policy: an operator rule and a VPN-style fwmark rule.
  host.exec('ip', ['rule', 'add', 'pref', '9000', 'to', '192.0.2.0/24', 'lookup', '200']);
  host.exec('ip', ['-6', 'rule', 'add', 'pref', '32765', 'fwmark', '0xca6c', 'lookup', '51820']);
  for (const link of ['oem0', 'oem1', 'wlan0']) host.addLink(link);
  host.exec('sysctl', [
    '-qw',
    'net.ipv4.conf.oem0.forwarding=1',
    'net.ipv6.conf.wlan0.accept_redirects=0',
  ]);
  await host.settle();
  await upstream.settle();
  server = nodeIn(upstream, SERVER);
  await new Promise<void>((resolve) => server?.stdout?.once('data', () => resolve()));
  client = nodeIn(host, CLIENT);
  client.stdout?.setEncoding('utf8').on('data', (d: string) => {
    for (const line of d.split('\n')) {
      if (line.startsWith('ok ')) echoes = Number(line.slice(3));
      if (line.startsWith('FAIL')) failure = line;
    }
  });
});

after(() => {
  client?.kill();
  server?.kill();
  host.remove();
  upstream.remove();
  dir.remove();
});

/** The TCP connection still echoes, and ping/ping -6 reach the far addresses via the default routes. */
async function assertConnectivity(when: string): Promise<void> {
  const start = echoes;
  const deadline = Date.now() + 5000;
  while (echoes < start + 3) {
    assert.equal(failure, '', `TCP connection ${when}`);
    assert.ok(Date.now() < deadline, `TCP echoes stalled ${when} (${echoes})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  host.exec('ping', ['-c', '1', '-W', '2', FAR4]);
  host.exec('ping', ['-6', '-c', '1', '-W', '2', FAR6]);
  assert.match(host.exec('ip', ['route', 'get', FAR4]), /via 198\.51\.100\.1 dev up0/);
}

async function cmd(path: string, ...words: string[]): Promise<void> {
  const reply = (await sendCommand(path, words)).join('\n');
  assert.match(reply, /^2\d\d /, `${words.join(' ')} → ${reply}`);
  await assertConnectivity(`after ${words.join(' ')}`);
}

/** OEM networks come and go, with every kind of route and forwarding. */
async function churn(path: string): Promise<void> {
  await cmd(path, 'network', 'create', 'oem1');
  await cmd(path, 'network', 'create', 'oem2', 'SYSTEM');
  await cmd(path, 'network', 'interface', 'add', 'oem1', 'oem0');
  await cmd(path, 'network', 'interface', 'add', 'oem2', 'oem1');
  await cmd(path, 'network', 'route', 'add', 'oem1', 'oem0', '0.0.0.0/0');
  await cmd(path, 'network', 'route', 'add', 'oem1', 'oem0', '::/0', 'throw');
  await cmd(path, 'network', 'route', 'add', 'oem2', 'oem1', '10.9.0.0/16', 'unreachable');
  await cmd(path, 'network', 'route', 'legacy', '1000', 'add', 'oem2', 'oem1', '10.10.0.0/16');
  await cmd(path, 'network', 'interface', 'add', 'local', 'wlan0');
  await cmd(path, 'network', 'route', 'add', 'local', 'wlan0', '10.77.0.0/16');
  await cmd(path, 'ipfwd', 'enable', 'tethering');
  await cmd(path, 'ipfwd', 'add', 'wlan0', 'oem0');
  await cmd(path, 'ipfwd', 'remove', 'wlan0', 'oem0');
  await cmd(path, 'ipfwd', 'disable', 'tethering');
  await cmd(path, 'network', 'interface', 'remove', 'oem1', 'oem0');
  await cmd(path, 'network', 'destroy', 'oem2');
}

test('TCP and ping through the default route survive start, OEM churn, ipfwd and SIGTERM; the namespace is exactly as before', async () => {
  await assertConnectivity('before start');
  const original = host.snapshot();
  const path = join(dir.path, 'netd-a');
  const daemon = await Daemon.start(host, path);
  await assertConnectivity('after start');
  await churn(path);
  await cmd(path, 'network', 'interface', 'add', 'oem1', 'oem0');
  await cmd(path, 'ipfwd', 'enable', 'left-on');
  assert.equal(await daemon.stop(), 0);
  await assertConnectivity('after SIGTERM');
  assert.doesNotMatch(daemon.stderr, /clean-up:/);
  assert.deepEqual(host.snapshot(), original);
});

test('TCP and ping survive SIGKILL (before and after the restart); the restarted daemon leaves the namespace exactly as before', async () => {
  const original = host.snapshot();
  const path = join(dir.path, 'netd-b');
  const first = await Daemon.start(host, path);
  await churn(path);
  await cmd(path, 'network', 'create', 'oem3');
  await cmd(path, 'network', 'interface', 'add', 'oem3', 'oem0');
  await cmd(path, 'network', 'route', 'add', 'oem3', 'oem0', '0.0.0.0/0');
  await cmd(path, 'ipfwd', 'enable', 'tethering');
  first.process.kill('SIGKILL');
  await first.exited();
  await assertConnectivity('after SIGKILL');
  const second = await Daemon.start(host, path);
  assert.match(second.stderr, /recovering from an unclean stop/);
  await assertConnectivity('after the restart');
  await churn(path);
  await cmd(path, 'ipfwd', 'enable', 'again');
  second.process.kill('SIGKILL');
  await second.exited();
  await assertConnectivity('after the second SIGKILL');
  const third = await Daemon.start(host, path);
  await assertConnectivity('after the second restart');
  assert.equal(await third.stop(), 0);
  await assertConnectivity('after SIGTERM');
  assert.deepEqual(host.snapshot(), original);
});
