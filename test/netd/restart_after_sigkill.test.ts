/**
 * Security review: state left behind when tsnetd is killed with SIGKILL (netd's
 * start-up flushes every rule). The next daemon must restore the rules and sysctls that existed
 * before the first one started — not the dead daemon's rules — and remove its routes.
 * Real namespace, real ip/iptables.
 *
 * @requires root (network namespaces, iproute2, iptables)
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Conn } from './helpers/conn.ts';
import { Daemon, Netns, ndc, tempDir } from './helpers/netns.ts';

const ns = new Netns('tsnetd-rst');
const dir = tempDir();
after(() => {
  ns.remove();
  dir.remove();
});

test('review: SIGKILL, restart, SIGTERM leaves the namespace exactly as before (rules, routes, iptables, sysctls)', async () => {
  ns.addLink('oem0');
  const table = ns.ifindex('oem0') + 1000;
  // Original state: an operator rule, forwarding off, redirects accepted.
  ns.exec('ip', ['rule', 'add', 'prio', '5000', 'lookup', '200']);
  ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=0', 'net.ipv4.conf.all.accept_redirects=1']);
  const rules4 = ns.rules(4);
  const rules6 = ns.rules(6);
  await ns.settle();
  const host = ns.snapshot();
  assert.ok(rules4.some((l) => l.startsWith('5000:')));
  const socketPath = join(dir.path, 'netd');

  const first = await Daemon.start(ns, socketPath);
  for (const words of [
    ['network', 'create', 'oem1'],
    ['network', 'interface', 'add', 'oem1', 'oem0'],
    ['network', 'route', 'add', 'oem1', 'oem0', '10.9.0.0/16'],
  ]) {
    assert.equal((await ndc(socketPath, words)).stdout, '200 0 success\n', words.join(' '));
  }
  assert.equal(
    (await ndc(socketPath, ['ipfwd', 'enable', 'tether'])).stdout,
    '200 0 ipfwd operation succeeded\n',
  );
  assert.equal(ns.sysctl('ipv4/ip_forward'), '1');
  assert.equal(ns.sysctl('ipv4/conf/all/accept_redirects'), '0', 'kernel side effect');
  first.process.kill('SIGKILL');
  await first.exited();
  assert.ok(existsSync(`${socketPath}.state`), 'state file survives the SIGKILL');

  const second = await Daemon.start(ns, socketPath);
  assert.match(second.stderr, /recovering from an unclean stop/);
  // The dead daemon's route is gone, its sysctls are the host's again already.
  assert.deepEqual(ns.routes(4, table), []);
  assert.deepEqual(ns.forwardingSysctls(), host.sysctls);
  assert.equal(await second.stop(), 0);

  assert.deepEqual(ns.rules(4), rules4);
  assert.deepEqual(ns.rules(6), rules6);
  assert.deepEqual(ns.snapshot(), host);
  assert.deepEqual(
    ns.mangle(4).filter((l) => l.includes('routectrl')),
    [],
  );
  assert.ok(!existsSync(`${socketPath}.state`), 'state file removed after a clean stop');
});

test('review: distinct ipfwd requesters are bounded (memory), ENOSPC beyond 256', async () => {
  const socketPath = join(dir.path, 'netd-req');
  const daemon = await Daemon.start(ns, socketPath);
  try {
    const c = await Conn.open(socketPath);
    try {
      for (let i = 0; i < 256; i++) c.write(`${i} ipfwd enable r${i}\0`);
      const replies = await c.waitLines(256, 30_000);
      assert.ok(replies.every((l, i) => l === `200 ${i} ipfwd operation succeeded`));
      assert.equal(
        await c.request('300 ipfwd enable one-too-many'),
        '400 300 ipfwd operation failed (No space left on device)',
      );
      // An existing requester is still accepted, and a freed slot can be reused.
      assert.equal(await c.request('301 ipfwd enable r7'), '200 301 ipfwd operation succeeded');
      assert.equal(await c.request('302 ipfwd disable r7'), '200 302 ipfwd operation succeeded');
      assert.equal(await c.request('303 ipfwd enable new'), '200 303 ipfwd operation succeeded');
    } finally {
      c.close();
    }
  } finally {
    assert.equal(await daemon.stop(), 0);
  }
});
