/**
 * No Node inspector in any program of the project: SIGUSR1 sent to tsnetd, ndc or a root
 * wrapper neither opens a debugger port (nothing listens on 9229 in the program's own network
 * namespace afterwards) nor stops the program, which goes on working. A bare `node` process
 * in the same namespace is the control: SIGUSR1 does open 9229 there, so the check can fail.
 * And a root program refuses to start with NODE_OPTIONS set.
 *
 * @requires root (network namespaces, root programs under test)
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readableBuild } from '../helpers/readable_build.ts';
import { Daemon, NDC, Netns, ROOT, tempDir } from '../netd/helpers/netns.ts';

// Run by other users: a copy they can read, wherever the checkout is (it may be under a 0700 directory).
const WRAPPER_JS = join(readableBuild(), 'dist/cli/netutils_wrapper.js');
const ns = new Netns('tsnetd-insp');
const dir = tempDir();
chmodSync(dir.path, 0o755);
const CONFIG = join(dir.path, 'netutils.json');
writeFileSync(CONFIG, '{}');
after(() => {
  ns.remove();
  dir.remove();
});

/** Whether anything listens on TCP port 9229 in the namespace. */
function inspectorListening(): boolean {
  const tables = ns.exec('cat', ['/proc/net/tcp', '/proc/net/tcp6']);
  return tables.split('\n').some((l) => /^\s*\d+: [0-9A-F]+:240D [0-9A-F]+:0000 0A /.test(l));
}

function inNs(args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns.name, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(env === undefined ? {} : { env }),
  });
}

async function usr1AndCheck(child: ChildProcess): Promise<void> {
  assert.equal(inspectorListening(), false, 'nothing on 9229 before');
  child.kill('SIGUSR1');
  await sleep(700);
  assert.equal(child.exitCode, null, 'the process is still running');
  assert.equal(child.signalCode, null);
  assert.equal(inspectorListening(), false, 'nothing listens on 9229 after SIGUSR1');
}

test('control: a bare node process opens 9229 on SIGUSR1 (the check can fail)', async () => {
  const child = inNs([process.execPath, '-e', 'setInterval(() => {}, 1000)']);
  try {
    await sleep(500);
    child.kill('SIGUSR1');
    let open = false;
    for (let i = 0; i < 40 && !open; i++) {
      await sleep(50);
      open = inspectorListening();
    }
    assert.equal(open, true);
  } finally {
    child.kill('SIGKILL');
  }
  await sleep(200);
});

test('tsnetd: SIGUSR1 opens no inspector and the daemon keeps answering', async () => {
  const socketPath = join(dir.path, 'netd');
  const daemon = Daemon.spawn(ns, socketPath);
  try {
    await daemon.waitFor(/listening on /, 20_000);
    await usr1AndCheck(daemon.process);
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', NDC, '--socket', socketPath, 'ipfwd', 'status'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    assert.equal(r.stdout, '211 0 Forwarding disabled\n');
  } finally {
    assert.equal(await daemon.stop(), 0);
  }
});

test('ndc: SIGUSR1 while waiting for a reply opens no inspector; the reply still arrives', async () => {
  const socketPath = join(dir.path, 'slow');
  let conn: Socket | undefined;
  const server = createServer((c) => {
    conn = c;
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const child = inNs([
    process.execPath,
    '--import',
    'tsx',
    NDC,
    '--socket',
    socketPath,
    'ipfwd',
    'status',
  ]);
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  try {
    for (let i = 0; i < 200 && conn === undefined; i++) await sleep(50);
    assert.ok(conn !== undefined, 'ndc connected');
    await usr1AndCheck(child);
    conn.write('211 0 Forwarding disabled\0');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0);
    assert.equal(stdout, '211 0 Forwarding disabled\n');
  } finally {
    child.kill('SIGKILL');
    server.close();
  }
});

test('a root wrapper running `ip xfrm monitor`: SIGUSR1 opens no inspector; SIGTERM still ends it (143)', async () => {
  const links = join(dir.path, 'links');
  mkdirSync(links);
  symlinkSync(WRAPPER_JS, join(links, 'ip-wrapper-1.0'));
  const child = inNs([process.execPath, join(links, 'ip-wrapper-1.0'), 'xfrm', 'monitor'], {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    NETUTILS_CONFIG: CONFIG,
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    await sleep(1500);
    assert.equal(child.exitCode, null, stderr);
    await usr1AndCheck(child);
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 143, stderr);
  } finally {
    child.kill('SIGKILL');
  }
});

test('root programs refuse NODE_OPTIONS; an unprivileged wrapper is unaffected', () => {
  const env = { PATH: '/usr/bin:/bin', NODE_OPTIONS: '--no-warnings' };
  for (const [program, args] of [
    [join(ROOT, 'src/cli/tsnetd.ts'), ['--socket', join(dir.path, 'never')]],
    [NDC, ['ipfwd', 'status']],
    [join(ROOT, 'src/cli/netutils_wrapper.ts'), []],
  ] as const) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', program, ...args], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, program);
    assert.match(r.stderr, /refusing to run as root with NODE_OPTIONS set/, program);
  }
  const links = join(dir.path, 'links2');
  mkdirSync(links);
  symlinkSync(WRAPPER_JS, join(links, 'netutils-wrapper-1.0'));
  const user = spawnSync(
    'setpriv',
    [
      '--reuid=1000',
      '--regid=1000',
      '--clear-groups',
      process.execPath,
      join(links, 'netutils-wrapper-1.0'),
      'explain',
      'ip',
      'xfrm',
      'state',
    ],
    { env: { ...env, NETUTILS_CONFIG: CONFIG }, encoding: 'utf8' },
  );
  assert.doesNotMatch(user.stderr, /refusing/);
  assert.equal(user.status, 0, user.stderr);
  assert.match(user.stdout, /^allowed: /m);
});
