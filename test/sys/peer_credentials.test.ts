/**
 * peerCredentials / peerGroups against the kernel: a Unix stream server in this process, clients
 * started as other users with `setpriv`, so the uid, gid and groups the server reads can only come
 * from the kernel.
 *
 * @requires root (setpriv to other users and groups)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PeerCredentialsError, peerCredentials, peerGroups } from '../../src/sys/mod.ts';

const dir = mkdtempSync(join(tmpdir(), 'tsnetd-peercred-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Accepts one connection from a client started with `setpriv …`, returns what the kernel says. */
async function credentialsOf(setprivArgs: readonly string[]) {
  const path = join(dir, `s${Math.random().toString(16).slice(2)}`);
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  chmodSync(dir, 0o755);
  chmodSync(path, 0o666);
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const script = `require('net').connect(${JSON.stringify(path)}).on('connect', function () { setTimeout(() => this.end(), 2000); })`;
  const child = spawn('setpriv', [...setprivArgs, process.execPath, '-e', script], {
    stdio: 'ignore',
  });
  try {
    const conn = await accepted;
    const result = { creds: peerCredentials(conn), groups: peerGroups(conn), childPid: child.pid };
    conn.destroy();
    return result;
  } finally {
    child.kill();
    server.close();
  }
}

test('SO_PEERCRED gives the uid, gid and pid of the connecting process', async () => {
  const r = await credentialsOf(['--reuid=65534', '--regid=65534', '--clear-groups']);
  assert.equal(r.creds.uid, 65534);
  assert.equal(r.creds.gid, 65534);
  assert.equal(r.creds.pid, r.childPid);
  assert.deepEqual(r.groups, []);
});

test('SO_PEERGROUPS gives the supplementary groups, however many', async () => {
  const many = Array.from({ length: 100 }, (_, i) => 20000 + i);
  const r = await credentialsOf(['--reuid=65534', '--regid=65534', `--groups=${many.join(',')}`]);
  assert.deepEqual(
    [...r.groups].sort((a, b) => a - b),
    many,
  );
});

test('a descriptor that is not a socket is an error, not a guess', () => {
  const fd = openSync(join(dir, 'plain-file'), 'w');
  try {
    assert.throws(() => peerCredentials(fd), PeerCredentialsError);
    assert.throws(() => peerGroups(fd), PeerCredentialsError);
  } finally {
    closeSync(fd);
  }
});
