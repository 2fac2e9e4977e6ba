/**
 * The defects of issue "netd on a real Linux host", one test each, against a real daemon in a
 * fresh namespace: removal with a missing IPv4/IPv6 table, ESRCH for a missing route, state
 * files that are empty/truncated/garbage/`{}`, interface names with `+ ~ @ #`, an interface
 * deleted and re-created under the same name, foreign state in netd's rule priorities and
 * tables, unsafe state directories and symlinks, and no `ip` process per command.
 *
 * @requires root (network namespaces, iptables, strace)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sendCommand } from '../../src/netd/client.ts';
import { Daemon, Netns, tempDir } from './helpers/netns.ts';

const ns = new Netns('tsnetd-def');
const dir = tempDir();
let counter = 0;

before(async () => {
  for (const link of ['oem0', 'oem1', 'veth+1', 'wg~home', 'br@x', 'tun#1', 'wlan+'])
    ns.addLink(link);
  await ns.settle();
});
after(() => {
  ns.remove();
  dir.remove();
});

function socketPath(): string {
  counter += 1;
  return join(dir.path, `netd${counter}`);
}

async function cmd(path: string, ...words: string[]): Promise<string> {
  return (await sendCommand(path, words)).join('\n');
}

/** Runs `body` against a fresh daemon; stops it and checks the namespace is as before. */
async function withDaemon(
  body: (path: string) => Promise<void>,
  path = socketPath(),
): Promise<void> {
  const before = ns.snapshot();
  const daemon = await Daemon.start(ns, path);
  try {
    await body(path);
  } finally {
    assert.equal(await daemon.stop(), 0);
  }
  assert.doesNotMatch(daemon.stderr, /clean-up:/);
  assert.deepEqual(ns.snapshot(), before, 'namespace exactly as before');
}

const OK = '200 0 success';

test('interface remove and network destroy succeed when a table has no IPv4 or no IPv6 routes', async () => {
  await withDaemon(async (path) => {
    assert.equal(await cmd(path, 'network', 'create', 'oem1'), OK);
    assert.equal(await cmd(path, 'network', 'interface', 'add', 'oem1', 'oem0'), OK);
    assert.equal(
      await cmd(path, 'network', 'interface', 'remove', 'oem1', 'oem0'),
      OK,
      'no routes at all',
    );
    assert.equal(await cmd(path, 'network', 'interface', 'add', 'oem1', 'oem0'), OK);
    assert.equal(await cmd(path, 'network', 'route', 'add', 'oem1', 'oem0', '2001:db8::/48'), OK);
    assert.equal(await cmd(path, 'network', 'destroy', 'oem1'), OK, 'only IPv6 routes');
    assert.equal(await cmd(path, 'network', 'create', 'oem2'), OK);
    assert.equal(await cmd(path, 'network', 'interface', 'add', 'oem2', 'oem1'), OK);
    assert.equal(await cmd(path, 'network', 'route', 'add', 'oem2', 'oem1', '10.8.0.0/16'), OK);
    assert.equal(
      await cmd(path, 'network', 'interface', 'remove', 'oem2', 'oem1'),
      OK,
      'only IPv4 routes',
    );
    assert.equal(await cmd(path, 'network', 'destroy', 'oem2'), OK);
  });
});

test('route remove of a missing route answers ESRCH (IPv4 and IPv6)', async () => {
  await withDaemon(async (path) => {
    assert.equal(await cmd(path, 'network', 'create', 'oem1'), OK);
    assert.equal(await cmd(path, 'network', 'interface', 'add', 'oem1', 'oem0'), OK);
    for (const dst of ['10.99.0.0/16', '2001:db8:99::/48']) {
      assert.equal(
        await cmd(path, 'network', 'route', 'remove', 'oem1', 'oem0', dst),
        '400 0 removeRoute() failed (No such process)',
        dst,
      );
      assert.equal(
        await cmd(path, 'network', 'route', 'remove', 'oem1', 'oem0', dst, 'unreachable'),
        '400 0 removeRoute() failed (No such process)',
        `${dst} unreachable`,
      );
    }
  });
});

test('an empty, truncated, garbage or {} state file stops the start with a clear message and changes nothing', async () => {
  for (const content of ['', '{"version":1,"sysc', 'garbage\n', '{}', '{"version":1}', 'null']) {
    const before = ns.snapshot();
    const path = socketPath();
    writeFileSync(`${path}.state`, content, { mode: 0o600 });
    const daemon = Daemon.spawn(ns, path);
    assert.equal(await daemon.exited(), 1, JSON.stringify(content));
    assert.match(daemon.stderr, /Cannot recover from state file .*remove the file and start again/);
    assert.equal(readFileSync(`${path}.state`, 'utf8'), content, 'the file is left for inspection');
    assert.deepEqual(ns.snapshot(), before, 'nothing changed');
    rmSync(`${path}.state`);
  }
  // The documented way on: after inspection, remove the file.
  await withDaemon(async (path) => {
    assert.equal(await cmd(path, 'ipfwd', 'status'), '211 0 Forwarding disabled');
  });
});

test('interface names with + ~ @ # work everywhere; a trailing + (an iptables wildcard) is refused', async () => {
  await withDaemon(async (path) => {
    assert.equal(await cmd(path, 'network', 'create', 'oem1'), OK);
    for (const name of ['veth+1', 'wg~home', 'br@x', 'tun#1']) {
      assert.equal(await cmd(path, 'network', 'interface', 'add', 'oem1', name), OK, name);
      assert.equal(await cmd(path, 'network', 'route', 'add', 'oem1', name, '10.0.0.0/8'), OK);
      assert.equal(await cmd(path, 'network', 'route', 'add', 'oem1', name, '2001:db8::/32'), OK);
      const table = ns.ifindex(name) + 1000;
      assert.deepEqual(ns.routes(4, table), [`10.0.0.0/8 dev ${name} proto static scope link`]);
      assert.ok(
        ns
          .mangle(4)
          .includes(`-A routectrl_mangle_INPUT -i ${name} -j MARK --set-xmark 0x30002/0xffefffff`),
        `mark for ${name}`,
      );
      assert.ok(ns.rules(6).includes(`14000: from all iif lo oif ${name} lookup ${table}`));
    }
    assert.equal(await cmd(path, 'ipfwd', 'enable', 'tether'), '200 0 ipfwd operation succeeded');
    assert.equal(ns.sysctl('ipv4/conf/tun#1/forwarding'), '1');
    assert.equal(
      await cmd(path, 'ipfwd', 'add', 'br@x', 'wg~home'),
      '200 0 ipfwd operation succeeded',
    );
    assert.equal(
      await cmd(path, 'ipfwd', 'remove', 'br@x', 'wg~home'),
      '200 0 ipfwd operation succeeded',
    );
    assert.equal(await cmd(path, 'ipfwd', 'disable', 'tether'), '200 0 ipfwd operation succeeded');
    assert.equal(
      await cmd(path, 'network', 'interface', 'add', 'oem1', 'wlan+'),
      '400 0 addInterfaceToNetwork() failed (Invalid argument)',
    );
    for (const name of ['veth+1', 'wg~home', 'br@x', 'tun#1'])
      assert.equal(await cmd(path, 'network', 'interface', 'remove', 'oem1', name), OK, name);
    assert.equal(await cmd(path, 'network', 'destroy', 'oem1'), OK);
  });
});

test('an interface deleted and re-created under the same name leaves nothing stale and can join again', async () => {
  for (const how of ['interface remove', 'network destroy']) {
    await withDaemon(async (path) => {
      ns.addLink('re0');
      const oldTable = ns.ifindex('re0') + 1000;
      assert.equal(await cmd(path, 'network', 'create', 'oem1'), OK);
      assert.equal(await cmd(path, 'network', 'interface', 'add', 'oem1', 're0'), OK);
      assert.equal(await cmd(path, 'network', 'route', 'add', 'oem1', 're0', '10.1.0.0/16'), OK);
      assert.equal(
        await cmd(path, 'network', 'route', 'add', 'oem1', 're0', '10.2.0.0/16', 'unreachable'),
        OK,
      );
      assert.equal(await cmd(path, 'network', 'route', 'add', 'oem1', 're0', '::/0', 'throw'), OK);
      assert.equal(
        await cmd(path, 'ipfwd', 'add', 'oem0', 're0'),
        '200 0 ipfwd operation succeeded',
      );
      ns.exec('ip', ['link', 'del', 're0']);
      ns.addLink('re0');
      const newTable = ns.ifindex('re0') + 1000;
      assert.notEqual(newTable, oldTable);
      if (how === 'interface remove')
        assert.equal(await cmd(path, 'network', 'interface', 'remove', 'oem1', 're0'), OK);
      else assert.equal(await cmd(path, 'network', 'destroy', 'oem1'), OK);
      const mentions = (l: string) =>
        l.includes(`lookup ${oldTable}`) || l.includes(`lookup ${newTable}`) || l.includes('re0');
      for (const family of [4, 6] as const) {
        assert.deepEqual(ns.rules(family).filter(mentions), [], `IPv${family} rules`);
        assert.deepEqual(ns.routes(family, oldTable), [], `IPv${family} old table`);
        assert.deepEqual(ns.routes(family, newTable), [], `IPv${family} new table`);
        assert.deepEqual(ns.mangle(family).filter(mentions), [], `IPv${family} marks`);
      }
      // It can join again, with its new table.
      if (how === 'network destroy') assert.equal(await cmd(path, 'network', 'create', 'oem1'), OK);
      assert.equal(await cmd(path, 'network', 'interface', 'add', 'oem1', 're0'), OK);
      assert.ok(ns.rules(4).includes(`14000: from all iif lo oif re0 lookup ${newTable}`));
      assert.equal(await cmd(path, 'network', 'route', 'add', 'oem1', 're0', '10.1.0.0/16'), OK);
      assert.deepEqual(ns.routes(4, newTable), ['10.1.0.0/16 dev re0 proto static scope link']);
      assert.equal(await cmd(path, 'network', 'destroy', 'oem1'), OK);
      ns.exec('ip', ['link', 'del', 're0']);
    });
  }
});

test('start is refused, with what and why, when a foreign rule holds a netd priority or netd tables hold routes', async () => {
  const cases: Array<{ setup: string[][]; undo: string[][]; message: RegExp }> = [
    {
      setup: [['ip', '-6', 'rule', 'add', 'pref', '13000', 'lookup', '300']],
      undo: [['ip', '-6', 'rule', 'del', 'pref', '13000', 'lookup', '300']],
      message: /IPv6 rules at priority 13000 exist that tsnetd did not install/,
    },
    {
      setup: [['ip', 'route', 'add', 'unreachable', '10.5.0.0/16', 'table', '97']],
      undo: [['ip', 'route', 'flush', 'table', '97']],
      message: /IPv4 routing table 97 holds 1 route/,
    },
  ];
  for (const c of cases) {
    for (const argv of c.setup) ns.exec(argv[0] as string, argv.slice(1));
    const before = ns.snapshot();
    const daemon = Daemon.spawn(ns, socketPath());
    assert.equal(await daemon.exited(), 1);
    assert.match(daemon.stderr, c.message);
    assert.match(daemon.stderr, /Cannot start beside the host's routing without breaking it/);
    assert.deepEqual(ns.snapshot(), before, 'nothing changed');
    for (const argv of c.undo) ns.exec(argv[0] as string, argv.slice(1));
  }
});

test('issue 12: a state directory writable by others is refused; symlinks are never written through', async () => {
  const open = join(dir.path, 'open');
  mkdirSync(open, { mode: 0o700 });
  chmodSync(open, 0o777);
  const refused = Daemon.spawn(ns, socketPath(), ['--state', join(open, 'netd.state')]);
  assert.equal(await refused.exited(), 1);
  assert.match(refused.stderr, /Cannot use state directory ".*open": writable by group or others/);
  assert.ok(!existsSync(join(open, 'netd.state')));
  const owned = join(dir.path, 'owned');
  mkdirSync(owned, { mode: 0o700 });
  chownSync(owned, 1000, 1000);
  const notRoot = Daemon.spawn(ns, socketPath(), ['--state', join(owned, 'netd.state')]);
  assert.equal(await notRoot.exited(), 1);
  assert.match(
    notRoot.stderr,
    /Cannot use state directory ".*owned": owned by uid 1000, not by root/,
  );

  // A state file that is a symlink is refused (not read, not replaced).
  const victim = join(dir.path, 'victim');
  writeFileSync(victim, 'precious\n');
  const linked = socketPath();
  symlinkSync(victim, `${linked}.state`);
  const viaLink = Daemon.spawn(ns, linked);
  assert.equal(await viaLink.exited(), 1);
  assert.match(viaLink.stderr, /it is a symbolic link/);
  rmSync(`${linked}.state`);

  // A symlink planted at <state>.tmp is removed, not followed.
  const path = socketPath();
  symlinkSync(victim, `${path}.state.tmp`);
  await withDaemon(async (p) => {
    assert.equal(await cmd(p, 'ipfwd', 'enable', 'x'), '200 0 ipfwd operation succeeded');
  }, path);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
});

test('no netd command spawns a process (strace -f -e execve on the daemon)', async () => {
  const path = socketPath();
  const daemon = await Daemon.start(ns, path);
  const trace = join(dir.path, 'execve.txt');
  const pid = daemon.process.pid as number;
  const strace = spawn(
    'strace',
    ['-f', '-qq', '-e', 'trace=execve,execveat,sendto', '-o', trace, '-p', String(pid)],
    {
      stdio: 'ignore',
    },
  );
  try {
    // Wait until strace is attached (it writes the file once it traces).
    await new Promise((r) => setTimeout(r, 1000));
    const words: string[][] = [
      ['network', 'create', 'oem1'],
      ['network', 'interface', 'add', 'oem1', 'oem0'],
      ['network', 'route', 'add', 'oem1', 'oem0', '10.1.0.0/16'],
      ['network', 'route', 'add', 'oem1', 'oem0', '2001:db8::/32', 'fe80::1'],
      ['network', 'route', 'remove', 'oem1', 'oem0', '10.1.0.0/16'],
      ['ipfwd', 'enable', 't'],
      ['ipfwd', 'add', 'oem1', 'oem0'],
      ['ipfwd', 'remove', 'oem1', 'oem0'],
      ['ipfwd', 'disable', 't'],
      ['network', 'interface', 'remove', 'oem1', 'oem0'],
      ['network', 'destroy', 'oem1'],
    ];
    for (const w of words) assert.match(await cmd(path, ...w), /^200 /, w.join(' '));
  } finally {
    strace.kill('SIGINT');
    await new Promise((r) => strace.once('exit', r));
    assert.equal(await daemon.stop(), 0);
  }
  const text = existsSync(trace) ? readFileSync(trace, 'utf8') : '';
  assert.match(text, /sendto\(/, 'strace was attached (the netlink requests are in the trace)');
  assert.doesNotMatch(text, /execve/, 'no program executed');
});
