/**
 * The wrapper program under each of its names, run locally against stand-in tools: argv, the one
 * refusal line, no iptables→ip fallback, argument hardening, exit status and signals. Without
 * CAP_NET_ADMIN the wrapper would send the command to the daemon instead of running it.
 *
 * @requires root (the wrapper runs tools itself only with CAP_NET_ADMIN)
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHarness, type Harness, UNSET } from './_harness.ts';

let h: Harness;
before(() => {
  h = createHarness();
});
after(() => h.cleanup());

function blockedLine(h: Harness, tool: string, args: readonly string[]): string {
  return `NetUtilsWrapper: Unexpected command: ${h.binDir}/${tool} ${args.join(' ')}\n`;
}

test('each installed name runs its own tool with argv[0] = <tool dir>/<tool>', () => {
  const cases: Array<[string, string, string[]]> = [
    ['ip-wrapper-1.0', 'ip', ['xfrm', 'state']],
    ['iptables-wrapper-1.0', 'iptables', ['-w', '-N', 'oem_x']],
    ['ip6tables-wrapper-1.0', 'ip6tables', ['-w', '-F', 'nm_pre_ip4']],
    ['ndc-wrapper-1.0', 'ndc', ['ipfwd', 'enable', 'tethering']],
    ['tc-wrapper-1.0', 'tc', ['qdisc', 'del', 'dev', 'root']],
    ['ipsec', 'ip', ['xfrm', 'policy']],
    ['tcfoo', 'tc', ['qdisc', 'add', 'dev', 'oem1', 'root', 'fq']],
  ];
  for (const [name, tool, args] of cases) {
    h.clearMarks();
    const r = h.run(name, args);
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    assert.equal(r.stderr, '');
    assert.deepEqual(h.ran(tool), [`${h.binDir}/${tool}`, ...args], name);
  }
});

test('invoked under its own name the wrapper exits 1 silently and runs nothing', () => {
  for (const args of [[], ['xfrm', 'state'], ['ip', 'xfrm', 'state']]) {
    h.clearMarks();
    const r = h.run('netutils-wrapper-1.0', args);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
    assert.deepEqual(readdirMarks(h), []);
  }
});

function readdirMarks(h: Harness): string[] {
  return ['ip', 'iptables', 'ip6tables', 'ndc', 'tc'].filter((t) => h.ran(t) !== undefined);
}

test('a refused command prints exactly one stderr line, exits 1 and runs nothing', () => {
  h.clearMarks();
  const args = ['link', 'show', 'lo'];
  const r = h.run('ip-wrapper-1.0', args);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, blockedLine(h, 'ip', args));
  assert.deepEqual(readdirMarks(h), []);
});

test('no iptables→ip fallback: ip6tables-wrapper-1.0 xfrm state is refused, ip never runs', () => {
  h.clearMarks();
  const r = h.run('ip6tables-wrapper-1.0', ['xfrm', 'state']);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, blockedLine(h, 'ip6tables', ['xfrm', 'state']));
  assert.deepEqual(readdirMarks(h), []);
});

test('arguments with whitespace or control characters are refused with the same single line', () => {
  const attempts = [
    ['addr', 'add', '192.0.2.1/24', 'dev', 'wlan0', 'x dev oem0'],
    ['xfrm', 'state\n/usr/sbin/ip link del oem0'],
    ['xfrm', 'state\tflush'],
    ['xfrm', 'state; touch pwned'],
    ['xfrm', ''],
  ];
  for (const args of attempts) {
    h.clearMarks();
    const r = h.run('ip-wrapper-1.0', args);
    assert.equal(r.status, 1, JSON.stringify(args));
    assert.equal(
      r.stderr.split('\n').length,
      2,
      `one line for ${JSON.stringify(args)}: ${r.stderr}`,
    );
    assert.match(r.stderr, /^NetUtilsWrapper: Unexpected command: /);
    assert.deepEqual(readdirMarks(h), []);
  }
  // A NUL cannot even be passed through execve; the checker refuses it too (check.test.ts).
  assert.throws(() => spawnSync(process.execPath, [h.link('ip-wrapper-1.0'), 'xfrm', 'state\0x']), {
    code: 'ERR_INVALID_ARG_VALUE',
  });
});

test('shell metacharacters reach the tool as literal text and no shell runs them', () => {
  const target = join(h.dir, 'pwned');
  // The wrapper runs with cwd = h.dir: a shell interpreting any of these would create files there.
  const args = [
    'xfrm',
    `state;touch\${IFS}pwned`,
    `$(touch\${IFS}pwned)`,
    `\`touch\${IFS}pwned\``,
    '|',
    '&&',
    '>x',
  ];
  h.clearMarks();
  const r = h.run('ip-wrapper-1.0', args);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(h.ran('ip'), [`${h.binDir}/ip`, ...args]);
  assert.ok(!existsSync(target));
  assert.ok(!existsSync(join(h.dir, 'x')));
  // Refused variant: nothing runs at all.
  h.clearMarks();
  const refused = h.run('ip-wrapper-1.0', [
    'link',
    'set',
    `$(touch\${IFS}pwned)`,
    `;touch\${IFS}pwned`,
  ]);
  assert.equal(refused.status, 1);
  assert.deepEqual(readdirMarks(h), []);
  assert.ok(!existsSync(target));
});

test('the tool inherits the environment and its exit status becomes the wrapper status', () => {
  h.clearMarks();
  const r = h.run('ip-wrapper-1.0', ['xfrm', 'state'], { NU_MODE: 'exit7' });
  assert.equal(r.status, 7);
  assert.ok(h.ran('ip') !== undefined, 'the tool found NU_MARK_DIR in its environment');
});

test('a tool killed by a signal gives 128 + the signal number', () => {
  for (const [mode, status] of [
    ['kill9', 137],
    ['term', 143],
  ] as const) {
    const r = h.run('ip-wrapper-1.0', ['xfrm', 'state'], { NU_MODE: mode });
    assert.equal(r.signal, null, mode);
    assert.equal(r.status, status, mode);
  }
});

for (const [signal, status] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
  ['SIGHUP', 129],
] as const) {
  test(`${signal} sent to the wrapper is forwarded to the running tool`, async () => {
    h.clearMarks();
    const child = spawn(process.execPath, [h.link('ip-wrapper-1.0'), 'xfrm', 'state'], {
      env: h.env({ NU_MODE: 'wait' }),
      stdio: 'ignore',
    });
    const pidFile = join(h.markDir, 'pid');
    try {
      for (let i = 0; i < 200 && !existsSync(pidFile); i++) await sleep(25);
      assert.ok(existsSync(pidFile), 'the tool started');
      await sleep(50);
      const toolPid = Number(readFileSync(pidFile, 'utf8'));
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.once('exit', (code, sig) => resolve([code, sig])),
      );
      child.kill(signal);
      const [code, sig] = await exited;
      assert.equal(sig, null, 'the wrapper itself was not killed');
      assert.equal(code, status);
      assert.throws(() => process.kill(toolPid, 0), { code: 'ESRCH' });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
}

test('a tool that cannot be started is reported and gives status 1', () => {
  const r = h.run('ip-wrapper-1.0', ['xfrm', 'state'], {
    NETUTILS_BIN_DIR: join(h.dir, 'nowhere'),
  });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `NetUtilsWrapper: Cannot run "${join(h.dir, 'nowhere')}/ip": ENOENT\n`);
});

test('the configuration can select a release, a tool directory and vendor extensions', () => {
  const config = join(h.dir, 'netutils.json');
  writeFileSync(
    config,
    JSON.stringify({ release: '11', binDir: h.binDir, vendorInterfacePatterns: ['vnd[0-9]+'] }),
  );
  const env = { NETUTILS_CONFIG: config, NETUTILS_BIN_DIR: UNSET };
  for (const args of [
    ['rule', 'add', 'prio', '25000'],
    ['addr', 'add', '192.0.2.1/24', 'dev', 'vnd0'],
  ]) {
    h.clearMarks();
    const r = h.run('ip-wrapper-1.0', args, env);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(h.ran('ip'), [`${h.binDir}/ip`, ...args]);
  }
  h.clearMarks();
  const refused = h.run('ip-wrapper-1.0', ['-6', 'xfrm', 'state'], env);
  assert.equal(refused.status, 1);
  assert.equal(refused.stderr, blockedLine(h, 'ip', ['-6', 'xfrm', 'state']));
});

test('a malformed or unreadable configuration stops the wrapper: exit 1, clear error, nothing run', () => {
  const config = join(h.dir, 'bad.json');
  const cases: Array<[string | undefined, RegExp]> = [
    ['{"release": "15",}', /not valid JSON/],
    ['{"allow": "everything"}', /unknown key "allow"/],
    ['{"vendorChainPatterns": [".*"]}', /matches the empty string/],
    [undefined, /cannot read it \(ENOENT\)/],
  ];
  for (const [text, reason] of cases) {
    const path = text === undefined ? join(h.dir, 'missing.json') : config;
    if (text !== undefined) writeFileSync(config, text);
    h.clearMarks();
    const r = h.run('iptables-wrapper-1.0', ['-w', '-N', 'oem_x'], { NETUTILS_CONFIG: path });
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^NetUtilsWrapper: Cannot load configuration "${path}": `));
    assert.match(r.stderr, reason);
    assert.equal(r.stderr.split('\n').length, 2);
    assert.deepEqual(readdirMarks(h), []);
  }
});

test('an unusable NETUTILS_BIN_DIR stops the wrapper with a clear error', () => {
  for (const dir of ['relative/bin', '', '/tmp/with space']) {
    const r = h.run('ip-wrapper-1.0', ['xfrm', 'state'], { NETUTILS_BIN_DIR: dir });
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^NetUtilsWrapper: Cannot use tool directory .* from NETUTILS_BIN_DIR: /,
    );
  }
});

test('a refused command is sent to the syslog socket via logger, tagged NetUtilsWrapper', async () => {
  const socketPath = join(h.dir, 'log.sock');
  const listener = spawn(
    '/usr/bin/python3',
    [
      '-c',
      'import socket,sys\n' +
        's=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])\n' +
        'print("ready", flush=True); s.settimeout(15)\n' +
        'sys.stdout.write(s.recv(8192).decode("utf-8","replace")); sys.stdout.flush()',
      socketPath,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    let out = '';
    listener.stdout.setEncoding('utf8');
    listener.stdout.on('data', (d: string) => {
      out += d;
    });
    for (let i = 0; i < 200 && !out.startsWith('ready'); i++) await sleep(25);
    const args = ['link', 'show', 'lo'];
    const r = h.run('ip-wrapper-1.0', args, { NETUTILS_LOG_SOCKET: socketPath });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, blockedLine(h, 'ip', args));
    const closed = new Promise((resolve) => listener.once('close', resolve));
    await closed;
    assert.match(out, /NetUtilsWrapper/);
    assert.ok(out.includes(`Unexpected command: ${h.binDir}/ip link show lo`), out);
  } finally {
    if (listener.exitCode === null) listener.kill('SIGKILL');
  }
});

test('without a reachable syslog socket the verdict and output are unchanged', () => {
  const r = h.run('ip-wrapper-1.0', ['link', 'show'], {
    NETUTILS_LOG_SOCKET: join(h.dir, 'none.sock'),
  });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, blockedLine(h, 'ip', ['link', 'show']));
});

test('explain prints the admitting rule or the closest rules, runs nothing, exits 0 or 1', () => {
  h.clearMarks();
  const ok = h.run('netutils-wrapper-1.0', ['explain', 'ip', 'xfrm', 'state']);
  assert.equal(ok.status, 0);
  assert.match(ok.stdout, new RegExp(`allowed: ${h.binDir}/ip xfrm state\\nrule R8: \\^`));
  const no = h.run('netutils-wrapper-1.0', [
    'explain',
    'iptables-wrapper-1.0',
    '-w',
    '-F',
    'INPUT',
  ]);
  assert.equal(no.status, 1);
  assert.match(
    no.stdout,
    /blocked: .*iptables -w -F INPUT\nno rule matched; closest rules:\n {2}R6: /,
  );
  assert.match(no.stdout, /first differing argument: argv\[3\] "INPUT"/);
  const usage = h.run('netutils-wrapper-1.0', ['explain', 'route']);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /Usage: netutils-wrapper-1.0 explain/);
  assert.deepEqual(readdirMarks(h), []);
});
