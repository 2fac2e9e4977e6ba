/**
 * Descriptor passing over Unix stream sockets (`SCM_RIGHTS`) and what the privileged side reads
 * from a received socket: real socket pairs, real UDP/TCP sockets, and a socket created by a
 * process running as another UID (setpriv), whose owner the kernel reports as that UID.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  closeDescriptor,
  describeSocket,
  receiveWithDescriptors,
  sendWithDescriptors,
  unixStreamPair,
} from '../../src/sys/descriptor_passing.ts';
import { socketFd } from '../../src/sys/socket_fd.ts';
import { readableBuild } from '../helpers/readable_build.ts';

async function receive(fd: number, maxDescriptors = 4) {
  for (let i = 0; i < 200; i++) {
    const r = receiveWithDescriptors(fd, 1024, maxDescriptors);
    if (r !== 'again') return r;
    await sleep(10);
  }
  throw new Error('nothing received');
}

test('a UDP socket travels with SCM_RIGHTS and is described by the kernel', async () => {
  const [a, b] = unixStreamPair();
  const udp = createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  try {
    assert.equal(sendWithDescriptors(a, Uint8Array.of(42), [socketFd(udp)]), 1);
    const r = await receive(b);
    assert.ok(typeof r === 'object');
    assert.deepEqual([...r.data], [42]);
    assert.equal(r.descriptors.length, 1);
    const fd = r.descriptors[0] ?? -1;
    assert.notEqual(fd, socketFd(udp), 'a new descriptor of the same socket');
    const d = describeSocket(fd);
    assert.equal(d?.domain, 2);
    assert.equal(d?.type, 2);
    assert.equal(d?.protocol, 17);
    assert.equal(d?.ownerUid, process.getuid?.());
    closeDescriptor(fd);
  } finally {
    udp.close();
    closeDescriptor(a);
    closeDescriptor(b);
  }
});

test('TCP listening socket, a file and a Unix socket are told apart', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
  const file = openSync(import.meta.filename, 'r');
  const [a, b] = unixStreamPair();
  try {
    const tcp = describeSocket(socketFd(server));
    assert.deepEqual([tcp?.domain, tcp?.type, tcp?.protocol], [10, 1, 6]);
    assert.equal(describeSocket(file), undefined);
    assert.equal(describeSocket(a)?.domain, 1);
  } finally {
    server.close();
    closeSync(file);
    closeDescriptor(a);
    closeDescriptor(b);
  }
});

test('descriptors beyond what the receiver allows are dropped (MSG_CTRUNC)', async () => {
  const [a, b] = unixStreamPair();
  try {
    sendWithDescriptors(a, Uint8Array.of(1), [0, 1, 2]);
    const r = await receive(b, 1);
    assert.ok(typeof r === 'object');
    assert.equal(r.truncated, true);
    assert.ok(r.descriptors.length <= 1);
    for (const fd of r.descriptors) closeDescriptor(fd);
    closeDescriptor(a);
    assert.equal(await receive(b), 'eof');
  } finally {
    closeDescriptor(b);
  }
});

test("a socket created by another UID reports that UID as its owner (the daemon's check)", async () => {
  const [a, b] = unixStreamPair();
  const script = `
    import { createSocket } from 'node:dgram';
    import { sendWithDescriptors } from './dist/sys/descriptor_passing.js';
    import { socketFd } from './dist/sys/socket_fd.js';
    const udp = createSocket('udp4');
    udp.bind(0, '127.0.0.1', () => { sendWithDescriptors(3, Uint8Array.of(7), [socketFd(udp)]); process.exit(0); });
  `;
  const child = spawn(
    '/usr/bin/setpriv',
    [
      ...['--reuid=10001', '--regid=10001', '--clear-groups', '--'],
      ...[process.execPath, '--input-type=module', '-e', script],
    ],
    // The built package, copied where uid 10001 can read it (the checkout may be under a 0700 home).
    { cwd: readableBuild(), stdio: ['ignore', 'ignore', 'pipe', b] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += String(d);
  });
  try {
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, stderr);
    const r = await receive(a);
    assert.ok(typeof r === 'object');
    const fd = r.descriptors[0] ?? -1;
    assert.equal(describeSocket(fd)?.ownerUid, 10001);
    closeDescriptor(fd);
  } finally {
    closeDescriptor(a);
    closeDescriptor(b);
  }
});
