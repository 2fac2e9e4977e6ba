/**
 * Runs INSIDE the kernel-peer guest as root, started by test/interop/ipsec_service.test.ts: the
 * IPsec service daemon (ipsec_service_daemon.ts, root) and its unprivileged clients (setpriv to
 * UIDs 10001/10002, no capabilities, no groups) against the guest kernel, which has ESP.
 *
 * - the behavioural suite as an unprivileged UID against the daemon;
 * - per-UID quotas across connections, and other UIDs unaffected;
 * - SIGKILL of a client: its SAs leave `ip xfrm state` within one second, other clients keep theirs;
 * - SIGKILL of the daemon and restart: no SA of the old daemon is left;
 * - a socket owned by root, handed over by an unprivileged client, is refused.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DAEMON_REQID_BASE, DAEMON_REQID_LAST } from '../../../src/ipsec/ipsec_service_daemon.ts';
import {
  IpSecAlgorithm,
  IpSecManager,
  IpSecTransform,
  KernelBackend,
} from '../../../src/ipsec/mod.ts';

const REPO = join(import.meta.dirname, '../../..');
const DIR = `/tmp/tsnetd-svc-${randomBytes(4).toString('hex')}`;
const SOCKET = join(DIR, 'ipsec');
const UID_A = 10001;
const UID_B = 10002;
const UID_DAEMON = 10003;
const NODE = [process.execPath, '--import', 'tsx'];
const children = new Set<ChildProcess>();
const CLIENT = 'test/helpers/kernel_peer/guest_ipsec_service_client.ts';

/**
 * The guest's procfs. In the chroot, /proc shows sysfs (the host's /proc and /sys share one 9p
 * export); a private proc mount in the guest's tmpfs /tmp sidesteps that.
 */
let procDir: string | undefined;
function guestProc(): string {
  if (procDir !== undefined) return procDir;
  if (existsSync('/proc/sys/net/core/xfrm_acq_expires')) {
    procDir = '/proc';
    return procDir;
  }
  const dir = `/tmp/tsnetd-proc-${process.pid}`;
  mkdirSync(dir, { recursive: true });
  execFileSync('/bin/mount', ['-t', 'proc', 'proc', dir]);
  procDir = dir;
  return dir;
}

function setAcqExpires(seconds: number): void {
  writeFileSync(`${guestProc()}/sys/net/core/xfrm_acq_expires`, `${seconds}\n`);
}

function asUser(uid: number): string[] {
  return ['/usr/bin/setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'];
}

function xfrmState(): string {
  return execFileSync('/sbin/ip', ['xfrm', 'state'], { encoding: 'utf8' });
}

/** Starts a process and resolves with it once a stdout line matches `ready`. */
async function start(
  argv: string[],
  ready: RegExp,
  options: { timeoutMs?: number; fd3?: number; env?: Record<string, string> } = {},
): Promise<{ child: ChildProcess; line: string }> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const child = spawn(argv[0] ?? '', argv.slice(1), {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe', ...(options.fd3 === undefined ? [] : [options.fd3])],
    env: {
      PATH: '/usr/bin:/bin:/usr/sbin:/sbin',
      HOME: '/tmp',
      TSNETD_IPSEC_SOCKET: SOCKET,
      ...options.env,
    },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += String(d);
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${argv.join(' ')}: not ready\n${stderr}`)),
      timeoutMs,
    );
    lines.on('line', (l) => {
      if (ready.test(l)) {
        clearTimeout(timer);
        resolve(l);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')}: exited ${code}\n${stderr}`));
    });
  });
  return { child, line };
}

async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

let daemon: ChildProcess;
/** The daemon as root, or as UID 10003 with CAP_NET_ADMIN as its only capability (the unit's). */
const startDaemon = async (capabilityOnly = false): Promise<ChildProcess> =>
  (
    await start(
      [
        ...(capabilityOnly
          ? [
              ...['/usr/bin/setpriv', `--reuid=${UID_DAEMON}`, `--regid=${UID_DAEMON}`],
              ...['--clear-groups', '--inh-caps=-all,+net_admin', '--ambient-caps=-all,+net_admin'],
              ...['--bounding-set=-all,+net_admin', '--no-new-privs', '--'],
            ]
          : []),
        ...NODE,
        'test/helpers/kernel_peer/ipsec_service_daemon.ts',
        SOCKET,
        '1000',
      ],
      /^READY$/,
    )
  ).child;

before(async () => {
  mkdirSync(DIR, { recursive: true });
  chmodSync(DIR, 0o755);
  daemon = await startDaemon();
});

after(async () => {
  for (const c of [...children]) await kill(c);
  rmSync(DIR, { recursive: true, force: true });
});

test('the behavioural suite passes as an unprivileged UID against the root daemon', async () => {
  const tap = `/tmp/service-suite-${randomBytes(4).toString('hex')}.tap`;
  // Unprivileged: its own UID, no groups, and of all capabilities only CAP_NET_RAW, so that the
  // suite's tshark capture on lo works (it cannot touch XFRM: no CAP_NET_ADMIN, checked there).
  const user = [
    ...asUser(UID_A).slice(0, -1),
    '--inh-caps=-all,+net_raw',
    '--ambient-caps=-all,+net_raw',
    '--',
  ];
  const child = spawn(
    user[0] ?? '',
    [
      ...user.slice(1),
      ...NODE,
      '--test',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      'test/helpers/kernel_peer/guest_ipsec_service_suite.ts',
    ],
    {
      cwd: REPO,
      stdio: ['ignore', 'inherit', 'pipe'],
      env: {
        PATH: '/usr/bin:/bin',
        HOME: '/tmp',
        TSNETD_IPSEC_SOCKET: SOCKET,
        TSNETD_GUEST_PROC: guestProc(),
      },
    },
  );
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += String(d);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const report = readFileSync(tap, 'utf8');
  const count = (name: string): number =>
    Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(report)?.[1] ?? Number.NaN);
  const failures = report
    .split('\n')
    .flatMap((l, i, all) => (/^\s*not ok /.test(l) ? all.slice(i, i + 25) : []))
    .join('\n');
  process.stdout.write(`# service suite: ${count('pass')}/${count('tests')} passed\n`);
  assert.equal(count('fail'), 0, `${failures}\n${stderr.slice(-3000)}`);
  assert.equal(code, 0, stderr.slice(-3000));
  assert.ok(count('tests') >= 100, `only ${count('tests')} tests ran`);
  assert.equal(count('skipped'), 0);
});

test('quotas are per UID across connections; another UID is unaffected', async () => {
  const client = (uid: number) =>
    start([...asUser(uid), ...NODE, CLIENT, 'quota', SOCKET], /^QUOTA /);
  const first = await client(UID_A);
  const second = await client(UID_A);
  const other = await client(UID_B);
  assert.match(first.line, /^QUOTA 64 ResourceUnavailableError$/);
  assert.match(second.line, /^QUOTA 0 ResourceUnavailableError$/, 'same UID, second connection');
  assert.match(other.line, /^QUOTA 64 ResourceUnavailableError$/, 'another UID');
  await kill(first.child);
  await sleep(1000);
  const third = await client(UID_A);
  assert.match(third.line, /^QUOTA 64 /, 'the killed connection gave its SPIs back');
  for (const c of [second, other, third]) await kill(c.child);
});

test('SIGKILL of a client: its SAs are gone within 1 s, another client keeps its own', async () => {
  const client = (uid: number) =>
    start([...asUser(uid), ...NODE, CLIENT, 'hold', SOCKET], /^READY /);
  const victim = await client(UID_A);
  const survivor = await client(UID_B);
  const spiOf = (line: string): string => line.split(' ')[1] ?? '';
  assert.match(victim.line, /through the kernel tx=1$/);
  assert.ok(xfrmState().includes(spiOf(victim.line)), 'the SA exists while the client lives');
  const killedAt = Date.now();
  await kill(victim.child);
  let gone = -1;
  while (Date.now() - killedAt < 3000) {
    if (!xfrmState().includes(spiOf(victim.line))) {
      gone = Date.now() - killedAt;
      break;
    }
    await sleep(50);
  }
  process.stdout.write(`# SA of the killed client gone after ${gone} ms\n`);
  assert.ok(gone >= 0 && gone < 1000, `SA still there after ${gone} ms`);
  assert.ok(xfrmState().includes(spiOf(survivor.line)), 'the other client keeps its SA');
  await kill(survivor.child);
});

test('SIGKILL of the daemon and restart (as a CAP_NET_ADMIN-only user): no SA of the old one left', async () => {
  const holder = await start([...asUser(UID_A), ...NODE, CLIENT, 'hold', SOCKET], /^READY /);
  const spi = holder.line.split(' ')[1] ?? '';
  await kill(daemon);
  assert.ok(xfrmState().includes(spi), 'a killed daemon leaves its SAs behind');
  // Restarted the way packaging/tsnetd.service runs it: its own user, CAP_NET_ADMIN only, in a
  // runtime directory it owns (RuntimeDirectory=). The tests after this one use it.
  chownSync(DIR, UID_DAEMON, UID_DAEMON);
  daemon = await startDaemon(true);
  const status = readFileSync(`${guestProc()}/${daemon.pid}/status`, 'utf8');
  assert.match(status, /^CapEff:\s+0000000000001000$/m, 'the daemon has CAP_NET_ADMIN only');
  assert.ok(!xfrmState().includes(spi), `the restarted daemon left ${spi}:\n${xfrmState()}`);
  const reqids = [...xfrmState().matchAll(/reqid (\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(
    reqids.filter((r) => r >= DAEMON_REQID_BASE && r <= DAEMON_REQID_LAST),
    [],
    'no SA of the daemon range',
  );
  await kill(holder.child);
});

test('apply overloads: dgram.Socket and raw descriptor work; foreign, non-socket, non-INET refused', async () => {
  const rootSocket = createSocket('udp4');
  await new Promise<void>((resolve) => rootSocket.bind(0, '127.0.0.1', resolve));
  const fd = (rootSocket as unknown as { [k: symbol]: { handle: { fd: number } } })[
    Object.getOwnPropertySymbols(rootSocket).find((s) => s.description === 'state symbol') ??
      Symbol()
  ]?.handle.fd;
  const client = await start(
    [...asUser(UID_A), ...NODE, CLIENT, 'overloads', SOCKET],
    /^OVERLOADS /,
    {
      ...(fd === undefined ? {} : { fd3: fd }),
    },
  );
  rootSocket.close();
  assert.equal(
    client.line,
    'OVERLOADS dgram=ok fd=ok exchange=ok foreign=SecurityError pipe=IllegalArgumentError unix=IllegalArgumentError remove=ok',
  );
  await kill(client.child);
});

test('a reserved SPI outlives net.core.xfrm_acq_expires (service and in-process kernel backend)', async () => {
  setAcqExpires(3);
  try {
    const late = await start([...asUser(UID_A), ...NODE, CLIENT, 'late', SOCKET], /^LATE /, {
      env: { LATE_MS: '12000' },
    });
    assert.equal(late.line, 'LATE late but protected');
    await kill(late.child);
    // in-process (root): the same renewal in the kernel backend itself
    const backend = await KernelBackend.create({ reservationRefreshMs: 1000 });
    try {
      await using ipsec = await IpSecManager.create({ backend });
      await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
      await sleep(12_000);
      await using transform = await new IpSecTransform.Builder(ipsec)
        .setAuthenticatedEncryption(
          new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, new Uint8Array(20).fill(5), 128),
        )
        .buildTransportModeTransform('127.0.0.1', spi);
      await using socket = ipsec.createDatagramSocket('udp4');
      const { port } = await socket.bind(0, '127.0.0.1');
      await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, transform);
      await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_IN, transform);
      const got = once(socket, 'message');
      await socket.send('in-process late', port, '127.0.0.1');
      assert.equal(String((await got)[0]), 'in-process late');
    } finally {
      await backend.close();
    }
  } finally {
    setAcqExpires(30);
  }
  // the real thing: the kernel's default 30 s, the transform built 60 s later
  const slow = await start([...asUser(UID_B), ...NODE, CLIENT, 'late', SOCKET], /^LATE /, {
    env: { LATE_MS: '60000' },
    timeoutMs: 240_000,
  });
  assert.equal(slow.line, 'LATE late but protected');
  await kill(slow.child);
});

test('hostile clients: quota flood, malformed frames, wrong descriptors, connection flood, a deaf client', async () => {
  const holder = await start([...asUser(UID_B), ...NODE, CLIENT, 'hold', SOCKET], /^READY /);
  const hostile = await start([...asUser(UID_A), ...NODE, CLIENT, 'hostile', SOCKET], /^HOSTILE /, {
    timeoutMs: 300_000,
  });
  assert.equal(
    hostile.line,
    'HOSTILE granted=64 refused=1936 garbage=cut badfield=cut pipe=IllegalArgumentError unixsocket=IllegalArgumentError served=62 deaf=cut',
  );
  await new Promise((resolve) => hostile.child.once('exit', resolve));
  // the others are still served: a fresh client of the same UID gets a working transform
  const after = await start([...asUser(UID_A), ...NODE, CLIENT, 'hold', SOCKET], /^READY /);
  assert.match(after.line, /through the kernel tx=1$/);
  await kill(after.child);
  await sleep(1000);
  // nothing of the hostile UID is left: the daemon's SAs are exactly the holder's
  const spis = [...xfrmState().matchAll(/spi (0x[0-9a-f]+) reqid (\d+)/g)]
    .filter((m) => Number(m[2]) >= DAEMON_REQID_BASE && Number(m[2]) <= DAEMON_REQID_LAST)
    .map((m) => m[1]);
  assert.deepEqual(spis, [holder.line.split(' ')[1]]);
  // `ip xfrm policy` lists socket policies too: only the holder's may be left (its reqid).
  const holderSpi = holder.line.split(' ')[1] ?? '';
  const holderReqid = new RegExp(`spi ${holderSpi} reqid (\\d+)`).exec(xfrmState())?.[1];
  const policyReqids = [
    ...execFileSync('/sbin/ip', ['xfrm', 'policy'], { encoding: 'utf8' }).matchAll(/reqid (\d+)/g),
  ].map((m) => m[1]);
  assert.ok(holderReqid !== undefined);
  assert.deepEqual(
    policyReqids.filter((r) => r !== holderReqid),
    [],
    'policies of other owners are left',
  );
  await kill(holder.child);
});

/** A network namespace held by a daemon started in it (`unshare --net`), one per "device". */
async function device(name: string): Promise<{ pid: number; socket: string; enter: string[] }> {
  const socket = join(DIR, `${name}.sock`);
  const { child } = await start(
    [
      '/usr/bin/unshare',
      '--net',
      '--',
      ...NODE,
      'test/helpers/kernel_peer/ipsec_service_daemon.ts',
      socket,
    ],
    /^READY$/,
  );
  const pid = child.pid ?? -1;
  return { pid, socket, enter: ['/usr/bin/nsenter', `--net=${guestProc()}/${pid}/ns/net`, '--'] };
}

test('TCP over transport mode between two service apps in two namespaces, IPv4 and IPv6', async () => {
  chownSync(DIR, 0, 0);
  const a = await device('device-a');
  const b = await device('device-b');
  const va = `tsva${randomBytes(2).toString('hex')}`;
  const vb = `tsvb${randomBytes(2).toString('hex')}`;
  const ip = (enter: string[], ...args: string[]) =>
    execFileSync(enter[0] ?? '', [...enter.slice(1), '/sbin/ip', ...args]);
  execFileSync('/sbin/ip', ['link', 'add', va, 'type', 'veth', 'peer', 'name', vb]);
  execFileSync('/sbin/ip', ['link', 'set', va, 'netns', String(a.pid)]);
  execFileSync('/sbin/ip', ['link', 'set', vb, 'netns', String(b.pid)]);
  for (const [d, dev, n] of [
    [a, va, 1],
    [b, vb, 2],
  ] as const) {
    ip(d.enter, 'link', 'set', 'lo', 'up');
    ip(d.enter, 'addr', 'add', `10.77.0.${n}/24`, 'dev', dev);
    ip(d.enter, 'addr', 'add', `fd77::${n}/64`, 'dev', dev, 'nodad');
    ip(d.enter, 'link', 'set', dev, 'up');
  }
  const results: string[] = [];
  for (const [addrA, addrB] of [
    ['10.77.0.1', '10.77.0.2'],
    ['fd77::1', 'fd77::2'],
  ] as const) {
    const server = await start(
      [...b.enter, ...asUser(UID_A), ...NODE, CLIENT, 'tcp-server', b.socket, addrB, addrA],
      /^LISTENING /,
    );
    const port = server.line.split(' ')[1] ?? '';
    const client = await start(
      [...a.enter, ...asUser(UID_B), ...NODE, CLIENT, 'tcp-client', a.socket, addrA, addrB, port],
      /^TCP /,
    );
    results.push(`${addrA}: ${client.line}`);
    await kill(client.child);
    await kill(server.child);
  }
  assert.deepEqual(results, ['10.77.0.1: TCP ok out=esp in=esp', 'fd77::1: TCP ok out=esp in=esp']);
});
