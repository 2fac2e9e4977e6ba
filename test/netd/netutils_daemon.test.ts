/**
 * The wrapper as a privilege boundary, end to end: tsnetd in a fresh network namespace with
 * `--netutils-group 4242`, real ip/iptables/tc, and the built wrapper run by unprivileged users
 * (`setpriv`): uid 1000 in the group (a member), uid 1001 outside it. Every attack the Android
 * rules admit is tried as both, and the kernel state (addresses, qdiscs, iptables, rules, the
 * other namespace, marker files) is compared before and after each; admitted commands give the
 * same output and exit status as the tool run directly as root; the tool dies with its caller.
 * Needs `npm run build` (dist/cli/netutils_wrapper.js).
 *
 * @requires root (network namespaces, setpriv, iptables, tc)
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readableBuild } from '../helpers/readable_build.ts';
import { Daemon, Netns, tempDir } from './helpers/netns.ts';

// Run by other users: a copy they can read, wherever the checkout is (it may be under a 0700 directory).
const WRAPPER_JS = join(readableBuild(), 'dist/cli/netutils_wrapper.js');
const GID = 4242;
const MEMBER = ['--reuid=1000', '--regid=1000', `--groups=${GID}`];
const PRIMARY_MEMBER = ['--reuid=1002', `--regid=${GID}`, '--clear-groups'];
const OUTSIDER = ['--reuid=1001', '--regid=1001', '--clear-groups'];

const ns = new Netns('tsnetd-nud');
const other = new Netns('tsnetd-nuo');
const dir = tempDir();
const socketPath = join(dir.path, 'run', 'netd');
const links = join(dir.path, 'links');
const evil = join(dir.path, 'evil');
const marker = join(evil, 'ran');
let daemon: Daemon;

interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function asUser(
  who: readonly string[],
  name: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn('setpriv', [...who, process.execPath, join(links, name), ...args], {
      env: { PATH: '/usr/bin:/bin', TSNETD_SOCKET: socketPath, ...env },
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    collect(child, resolve);
  });
}

function collect(child: ChildProcess, resolve: (r: Result) => void): void {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  child.once('close', (status, signal) => {
    clearTimeout(timer);
    resolve({ status, signal, stdout, stderr });
  });
}

/** The tool run directly as root in the daemon's namespace. */
function direct(tool: string, args: readonly string[]): Result {
  const r = spawnSync('ip', ['netns', 'exec', ns.name, `/usr/sbin/${tool}`, ...args], {
    encoding: 'utf8',
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Everything an attack could change or leave behind. */
function snapshot(): string {
  const parts = [
    ns.exec('ip', ['addr']),
    ns.exec('ip', ['rule']),
    ns.exec('tc', ['qdisc', 'show']),
    ns.exec('tc', ['filter', 'show', 'dev', 'wlan0', 'ingress']),
    ns.exec('iptables', ['-w', '-S']),
    ns.exec('ip6tables', ['-w', '-S']),
    other.exec('tc', ['qdisc', 'show']),
    other.exec('ip', ['addr']),
    String(existsSync(marker)),
  ];
  // Interface statistics move by themselves; compare only what configuration shows.
  return parts.join('\n---\n').replace(/^\s+(RX|TX).*$/gm, '');
}

before(async () => {
  assert.ok(existsSync(WRAPPER_JS), `${WRAPPER_JS} is missing: run "npm run build" first`);
  for (const link of ['oem0', 'wlan0', 'rmnet_data0']) ns.addLink(link);
  other.addLink('oem0');
  // IPv6 DAD would otherwise change `ip addr` (tentative) between two snapshots.
  await ns.settle();
  await other.settle();
  chmodSync(dir.path, 0o755);
  mkdirSync(join(dir.path, 'run'), { mode: 0o755 });
  mkdirSync(links);
  for (const name of [
    'ip-wrapper-1.0',
    'iptables-wrapper-1.0',
    'ip6tables-wrapper-1.0',
    'tc-wrapper-1.0',
    'ndc-wrapper-1.0',
  ])
    symlinkSync(WRAPPER_JS, join(links, name));
  // What a caller controls: a tool directory and a configuration of its own.
  mkdirSync(evil, { mode: 0o777 });
  chmodSync(evil, 0o777);
  for (const tool of ['ip', 'tc', 'iptables']) {
    writeFileSync(join(evil, tool), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
  }
  writeFileSync(join(evil, 'run-me'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
  writeFileSync(join(evil, 'cmds'), 'qdisc add dev wlan0 root pfifo limit 7\n');
  writeFileSync(join(evil, 'netutils.json'), JSON.stringify({ verdicts: 'android', binDir: evil }));
  chmodSync(join(evil, 'netutils.json'), 0o644);
  const config = join(dir.path, 'netutils.json');
  writeFileSync(config, '{}');
  daemon = Daemon.spawn(ns, socketPath, [
    '--netutils-group',
    String(GID),
    '--netutils-config',
    config,
  ]);
  await daemon.waitFor(/listening on /, 20_000);
});

after(async () => {
  try {
    await daemon?.stop();
  } finally {
    ns.remove();
    other.remove();
    dir.remove();
  }
});

const EVIL_ENV = {
  NETUTILS_BIN_DIR: evil,
  NETUTILS_CONFIG: join(evil, 'netutils.json'),
  NODE_OPTIONS: '--no-warnings', // the caller's own process; the daemon never sees it
  PATH: `${evil}:/usr/bin:/bin`,
};

test('the socket belongs to the netutils group, mode 0660', () => {
  const st = spawnSync('stat', ['-c', '%a %g', socketPath], { encoding: 'utf8' });
  assert.equal(st.stdout.trim(), `660 ${GID}`);
});

test('a member adds an address on a vendor interface through the daemon', async () => {
  const r = await asUser(MEMBER, 'ip-wrapper-1.0', ['addr', 'add', '192.0.2.1/24', 'dev', 'oem0']);
  assert.deepEqual(r, { status: 0, signal: null, stdout: '', stderr: '' });
  assert.match(ns.exec('ip', ['addr', 'show', 'oem0']), /inet 192\.0\.2\.1\/24 /);
});

test('admitted commands: same stdout, stderr and status as the tool run directly as root', async () => {
  const cases: Array<[string, string, string[]]> = [
    ['ip-wrapper-1.0', 'ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'oem0']], // fails: exists
    ['ip-wrapper-1.0', 'ip', ['xfrm', 'state']],
    ['ip-wrapper-1.0', 'ip', ['xfrm', 'policy']],
    ['ip-wrapper-1.0', 'ip', ['-6', 'addr', 'del', '2001:db8::1/64', 'dev', 'oem0']], // fails
    ['tc-wrapper-1.0', 'tc', ['qdisc', 'show', 'dev', 'oem0']],
    ['tc-wrapper-1.0', 'tc', ['qdisc', 'del', 'dev', 'root']], // AOSP rule 11: fails
    ['iptables-wrapper-1.0', 'iptables', ['-w', '-C', 'oem_none', '-j', 'ACCEPT']], // fails
  ];
  for (const [name, tool, args] of cases) {
    const through = await asUser(MEMBER, name, args, EVIL_ENV);
    const expected = direct(tool, args);
    assert.deepEqual(through, expected, `${tool} ${args.join(' ')}`);
  }
  assert.equal(existsSync(marker), false, "the caller's tool directory was never used");
});

test('arguments arrive byte for byte: quotes, backslashes, shell syntax and UTF-8', async () => {
  const comment = 'ü"x\\$(id)`id`;|';
  const spec = (chain: string) => [
    '-w',
    '-A',
    chain,
    '-i',
    'oem0',
    '-m',
    'comment',
    '--comment',
    comment,
    '-j',
    'ACCEPT',
  ];
  assert.equal(direct('iptables', ['-w', '-N', 'oem_direct']).status, 0);
  assert.equal(direct('iptables', spec('oem_direct')).status, 0);
  assert.equal(
    (await asUser(MEMBER, 'iptables-wrapper-1.0', ['-w', '-N', 'oem_wrapped'])).status,
    0,
  );
  const r = await asUser(MEMBER, 'iptables-wrapper-1.0', spec('oem_wrapped'));
  assert.equal(r.status, 0, r.stderr);
  const rules = ns.exec('iptables', ['-w', '-S']);
  const line = (chain: string) => rules.split('\n').find((l) => l.startsWith(`-A ${chain} `)) ?? '';
  assert.ok(line('oem_direct').includes('ü'), line('oem_direct'));
  assert.equal(
    line('oem_wrapped').replace('oem_wrapped', 'X'),
    line('oem_direct').replace('oem_direct', 'X'),
  );
});

test('vendor chains and qdiscs are created through the daemon, as a primary-group member too', async () => {
  for (const [who, name, args] of [
    [MEMBER, 'iptables-wrapper-1.0', ['-w', '-N', 'oem_fw']],
    [MEMBER, 'iptables-wrapper-1.0', ['-w', '-A', 'oem_fw', '-i', 'rmnet_data0', '-j', 'ACCEPT']],
    [PRIMARY_MEMBER, 'iptables-wrapper-1.0', ['-w', '-A', 'INPUT', '-j', 'oem_fw']],
    [
      PRIMARY_MEMBER,
      'tc-wrapper-1.0',
      ['qdisc', 'add', 'dev', 'rmnet_data0', 'root', 'pfifo', 'limit', '100'],
    ],
  ] as const) {
    const r = await asUser(who, name, args);
    assert.deepEqual(r, { status: 0, signal: null, stdout: '', stderr: '' }, args.join(' '));
  }
  assert.match(ns.exec('iptables', ['-w', '-S']), /-A oem_fw -i rmnet_data0 -j ACCEPT/);
  assert.match(ns.exec('iptables', ['-w', '-S', 'INPUT']), /-A INPUT -j oem_fw/);
  assert.match(ns.exec('tc', ['qdisc', 'show', 'dev', 'rmnet_data0']), /pfifo .* limit 100p/);
});

/** [wrapper name, args]: each admitted by Android's rules, each reaching beyond vendor interfaces. */
const ATTACKS = (): Array<[string, string[]]> => [
  ['tc-wrapper-1.0', ['-batch', join(evil, 'cmds'), 'dev', 'oem0']],
  ['tc-wrapper-1.0', ['-force', '-batch', '/etc/shadow', 'dev', 'oem0']],
  [
    'tc-wrapper-1.0',
    ['exec', 'bpf', 'import', join(evil, 'sock'), 'run', join(evil, 'run-me'), 'dev', 'oem0'],
  ],
  [
    'tc-wrapper-1.0',
    [
      'filter',
      'add',
      'dev',
      'wlan0',
      'ingress',
      'matchall',
      'action',
      'mirred',
      'egress',
      'redirect',
      'dev',
      'oem0',
    ],
  ],
  [
    'tc-wrapper-1.0',
    ['-n', other.name, 'qdisc', 'add', 'dev', 'oem0', 'root', 'pfifo', 'limit', '9'],
  ],
  ['iptables-wrapper-1.0', ['-w', '-I', 'INPUT', '!', '-i', 'oem0', '-j', 'DROP']],
  ['ip6tables-wrapper-1.0', ['-w', '-I', 'INPUT', '!', '-i', 'oem0', '-j', 'DROP']],
  [
    'iptables-wrapper-1.0',
    ['-w', '-A', 'INPUT', '-i', 'oem0', '-j', 'DROP', `--modprobe=${join(evil, 'run-me')}`],
  ],
  ['ip-wrapper-1.0', ['xfrm', 'monitor', 'all-nsid']],
  ['ndc-wrapper-1.0', ['network', 'interface', 'add', 'oem8', 'wlan0']],
  ['ndc-wrapper-1.0', ['ipfwd', 'add', 'wlan0', 'oem0']],
];

test('every attack as a member: one "Unexpected command" line, status 1, nothing changed, read or run', async () => {
  for (const [name, args] of ATTACKS()) {
    const before = snapshot();
    const r = await asUser(MEMBER, name, args, EVIL_ENV);
    assert.equal(r.status, 1, `${name} ${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', `${name} ${args.join(' ')}`);
    assert.match(
      r.stderr,
      /^NetUtilsWrapper: Unexpected command: \/\S+\/(ip|ip6tables|iptables|tc|ndc) [^\n]*\n$/,
      `${name} ${args.join(' ')}`,
    );
    assert.equal(snapshot(), before, `${name} ${args.join(' ')} changed the kernel state`);
  }
  assert.equal(existsSync(marker), false);
});

test('every attack outside the group: a permission line naming the socket, nothing changed', async () => {
  for (const [name, args] of [
    ...ATTACKS(),
    ['ip-wrapper-1.0', ['xfrm', 'state']] as [string, string[]],
  ]) {
    const before = snapshot();
    const r = await asUser(OUTSIDER, name, args, EVIL_ENV);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `NetUtilsWrapper: Permission denied: cannot connect to tsnetd at ${socketPath} (EACCES); the caller must be root or in tsnetd's netutils group\n`,
    );
    assert.equal(snapshot(), before);
  }
});

test('the daemon itself refuses a non-member that reaches the socket (502), whatever it sends', async () => {
  chmodSync(socketPath, 0o666);
  try {
    const r = await asUser(OUTSIDER, 'ip-wrapper-1.0', ['xfrm', 'state']);
    assert.deepEqual(r, {
      status: 1,
      signal: null,
      stdout: '',
      stderr: `NetUtilsWrapper: Permission denied: uid 1001 is not root and not in tsnetd's netutils group (gid ${GID})\n`,
    });
    const before = snapshot();
    const raw = await rawRequest(OUTSIDER, ['0 network create oem5', '1 ipfwd enable x']);
    assert.deepEqual(raw, [
      `502 0 Permission denied: uid 1001 is not root and not in tsnetd's netutils group (gid ${GID})`,
      `502 1 Permission denied: uid 1001 is not root and not in tsnetd's netutils group (gid ${GID})`,
    ]);
    assert.equal(snapshot(), before);
  } finally {
    chmodSync(socketPath, 0o660);
  }
});

/** Sends raw netd requests as another user, returns the reply lines. */
function rawRequest(who: readonly string[], requests: readonly string[]): Promise<string[]> {
  const script = `
    const s = require('net').connect(${JSON.stringify(socketPath)});
    let buf = ''; let n = 0;
    s.on('connect', () => s.write(${JSON.stringify(requests.map((r) => `${r}\0`).join(''))}));
    s.on('data', (d) => { buf += d.toString('latin1'); if (buf.split('\\0').length - 1 >= ${requests.length}) { process.stdout.write(buf); s.destroy(); } });
    s.on('error', (e) => { process.stdout.write('ERROR ' + e.code); });`;
  return new Promise((resolve) => {
    const child = spawn('setpriv', [...who, process.execPath, '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    collect(child, (r) => resolve(r.stdout.split('\0').filter((l) => l !== '')));
  });
}

test('a member is held to the rules on the raw netd protocol too', async () => {
  const before = snapshot();
  const lines = await rawRequest(MEMBER, [
    '0 network interface add oem8 wlan0',
    '1 network create 100',
    '2 ipfwd status',
    '3 network create oem1',
  ]);
  assert.deepEqual(lines, [
    '520 0 Unexpected command: /system/bin/ndc network interface add oem8 wlan0',
    '520 1 Unexpected command: /system/bin/ndc network create 100',
    '520 2 Unexpected command: /system/bin/ndc ipfwd status',
    '200 3 success',
  ]);
  // Only the admitted `network create oem1` changed something: its unreachable rule (netId 2).
  assert.equal(
    snapshot().replace('32000:\tfrom all fwmark 0x2/0xffff unreachable\n', '').replace(/\n/g, ''),
    before.replace(/\n/g, ''),
  );
  // ndc-wrapper-1.0 talks to the same daemon: the network exists now.
  const again = await asUser(MEMBER, 'ndc-wrapper-1.0', ['network', 'create', 'oem1']);
  assert.deepEqual(again, {
    status: 0,
    signal: null,
    stdout: '400 0 createPhysicalNetwork() failed (File exists)\n',
    stderr: '',
  });
  const destroy = await asUser(MEMBER, 'ndc-wrapper-1.0', ['network', 'destroy', 'oem1']);
  assert.equal(destroy.stdout, '200 0 success\n');
});

/** Children of `pid` whose argv[0] is `argv0` (the daemon executes tools by descriptor, so
 * their command name is the descriptor number; argv[0] is the tool path). */
function childrenOf(pid: number, argv0: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0');
      if (cmdline[0] === argv0 && Number(m?.[2]) === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

async function waitFor(predicate: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return predicate();
}

function startMonitor(): { child: ChildProcess; done: Promise<Result> } {
  const child = spawn(
    'setpriv',
    [...MEMBER, process.execPath, join(links, 'ip-wrapper-1.0'), 'xfrm', 'monitor'],
    {
      env: { PATH: '/usr/bin:/bin', TSNETD_SOCKET: socketPath },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const done = new Promise<Result>((resolve) => collect(child, resolve));
  return { child, done };
}

test('kill -9 of a wrapper running `ip xfrm monitor` leaves no ip process', async () => {
  const daemonPid = daemon.process.pid!;
  const { child, done } = startMonitor();
  assert.ok(
    await waitFor(() => childrenOf(daemonPid, '/usr/sbin/ip').length === 1, 10_000),
    'ip started',
  );
  const [ip] = childrenOf(daemonPid, '/usr/sbin/ip');
  child.kill('SIGKILL');
  await done;
  assert.ok(await waitFor(() => !existsSync(`/proc/${ip}`), 5000), `ip ${ip} still running`);
  assert.deepEqual(childrenOf(daemonPid, '/usr/sbin/ip'), []);
});

test('SIGTERM, SIGINT and SIGHUP to the wrapper reach the tool: status 128 + n, tool gone', async () => {
  const daemonPid = daemon.process.pid!;
  for (const [signal, status] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
  ] as const) {
    const { child, done } = startMonitor();
    assert.ok(await waitFor(() => childrenOf(daemonPid, '/usr/sbin/ip').length === 1, 10_000));
    child.kill(signal);
    const r = await done;
    assert.equal(r.status, status, `${signal}: ${r.stderr}`);
    assert.equal(r.stderr, '');
    assert.ok(await waitFor(() => childrenOf(daemonPid, '/usr/sbin/ip').length === 0, 5000));
  }
});

test('an unreachable daemon: status 1 and one line naming the socket path', async () => {
  const r = await asUser(MEMBER, 'ip-wrapper-1.0', ['xfrm', 'state'], {
    TSNETD_SOCKET: join(dir.path, 'nothing-here'),
  });
  assert.deepEqual(r, {
    status: 1,
    signal: null,
    stdout: '',
    stderr: `NetUtilsWrapper: Cannot reach tsnetd at ${join(dir.path, 'nothing-here')}: ENOENT\n`,
  });
});
