/**
 * The socket file of the root daemon cannot be turned against it: a directory another user can
 * write (or a symlinked one) is refused at start with a clear message; the socket is bound
 * without following links (a symlink planted at the socket path is never followed or removed,
 * and its target keeps its mode); a second daemon on the same path is refused by the lock
 * before it touches anything, also when the socket file was deleted; a stale socket is
 * replaced; the socket gets the netutils group and mode 0660.
 *
 * @requires root (chown, root-owned directories)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DaemonRunningError,
  SocketPathInUseError,
  UnsafeSocketDirectoryError,
} from '../../src/netd/errors.ts';
import { NetutilsService } from '../../src/netd/netutils_service.ts';
import { NetdServer } from '../../src/netd/server.ts';
import { NetutilsPolicy } from '../../src/netutils/settings.ts';
import { Daemon, tempDir } from './helpers/netns.ts';

const dir = tempDir();
after(() => dir.remove());
const execute = async () => [{ code: 200, message: 'success' }];

function sub(name: string, mode = 0o755): string {
  const p = join(dir.path, name);
  mkdirSync(p, { mode });
  chmodSync(p, mode);
  return p;
}

test('a socket directory writable by others, by group, owned by another user or a symlink is refused', async () => {
  for (const [name, prepare, reason] of [
    ['world', (p: string) => chmodSync(p, 0o777), /is writable by group or others/],
    ['sticky', (p: string) => chmodSync(p, 0o1777), /is writable by group or others/],
    ['group', (p: string) => chmodSync(p, 0o775), /is writable by group or others/],
    ['owned', (p: string) => chownSync(p, 1000, 1000), /is owned by uid 1000, not 0/],
  ] as const) {
    const p = sub(name);
    prepare(p);
    const socketPath = join(p, 'netd');
    await assert.rejects(
      NetdServer.listen({ socketPath, execute }),
      (e: unknown) =>
        e instanceof UnsafeSocketDirectoryError &&
        reason.test(e.message) &&
        e.message.includes(`Cannot listen on "${socketPath}": directory "${p}"`),
    );
    assert.equal(existsSync(socketPath), false, 'nothing was created');
  }
  const real = sub('real');
  symlinkSync(real, join(dir.path, 'linked'));
  await assert.rejects(
    NetdServer.listen({ socketPath: join(dir.path, 'linked', 'netd'), execute }),
    /is a symbolic link/,
  );
  // A directory above that others can write (not sticky) is refused too.
  const open = sub('open', 0o777);
  const inner = join(open, 'inner');
  mkdirSync(inner, { mode: 0o755 });
  await assert.rejects(
    NetdServer.listen({ socketPath: join(inner, 'netd'), execute }),
    /directory ".*\/open" is writable by others/,
  );
});

test('tsnetd refuses an unsafe socket directory at start with a clear message (exit 1)', async () => {
  const p = sub('cli-world');
  chmodSync(p, 0o777);
  const d = Daemon.spawn(undefined, join(p, 'netd'));
  assert.equal(await d.exited(), 1);
  assert.match(d.stderr, /directory ".*cli-world" is writable by group or others/);
});

test('a symlink planted at the socket path is neither followed nor replaced', async () => {
  const p = sub('planted');
  const target = join(dir.path, 'victim');
  writeFileSync(target, 'precious');
  chmodSync(target, 0o600);
  symlinkSync(target, join(p, 'netd'));
  await assert.rejects(
    NetdServer.listen({ socketPath: join(p, 'netd'), execute }),
    SocketPathInUseError,
  );
  assert.equal(readFileSync(target, 'utf8'), 'precious');
  assert.equal(statSync(target).mode & 0o777, 0o600, 'the target mode is unchanged');
  assert.ok(lstatSync(join(p, 'netd')).isSymbolicLink());
});

test('the lock refuses a second daemon, even after the socket file was deleted; a stale socket is replaced', async () => {
  const p = sub('lock');
  const socketPath = join(p, 'netd');
  const first = await NetdServer.listen({ socketPath, execute });
  try {
    await assert.rejects(NetdServer.listen({ socketPath, execute }), DaemonRunningError);
    unlinkSync(socketPath); // someone removed the file: the lock still holds
    await assert.rejects(NetdServer.listen({ socketPath, execute }), DaemonRunningError);
  } finally {
    await first.close();
  }
  // A stale socket (its server gone, file left) is replaced by the next daemon.
  const stale = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(socketPath)})`,
  ]);
  for (let i = 0; i < 250 && !existsSync(socketPath); i++) await sleep(20);
  stale.kill('SIGKILL'); // the file stays behind
  await new Promise((r) => stale.once('exit', r));
  assert.ok(lstatSync(socketPath).isSocket());
  const next = await NetdServer.listen({ socketPath, execute });
  try {
    const reply = await new Promise<string>((resolve) => {
      const c = connect(socketPath);
      c.on('data', (d) => {
        resolve(d.toString('latin1'));
        c.destroy();
      });
      c.write('0 ipfwd status\0');
    });
    assert.equal(reply, '200 0 success\0');
  } finally {
    await next.close();
  }
});

test('the socket is created mode 0660 and belongs to the netutils group', async () => {
  const p = sub('group-owned');
  const socketPath = join(p, 'netd');
  const netutils = new NetutilsService({ policy: await NetutilsPolicy.load(), groupId: 4243 });
  const server = await NetdServer.listen({ socketPath, execute, netutils });
  try {
    const st = lstatSync(socketPath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, 4243);
    assert.equal(st.uid, 0);
  } finally {
    await server.close();
  }
});
