/**
 * The sys layer's batched UDP I/O on loopback: `UdpSendBatch` (`sendmmsg` from native memory) to
 * IPv4 and IPv6 receivers, exact bytes and order, a failing entry that fails alone, argument
 * checks; `UdpRecvBatch` into caller slots through a `NativeUdpSocket` (sizes 0 to 65507, source
 * address and port, no truncation, an empty queue); `NativeUdpSocket` binding (busy port,
 * IPv6-only), closing (idempotent, fd -1, refused sends) and unreferencing (a child process with
 * only an unreferenced socket that keeps receiving exits by itself with code 0).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { koffiNative } from '../../src/sys/libc.ts';
import {
  MAX_UDP_SEND_BATCH,
  NativeUdpSocket,
  UdpBindError,
  UdpRecvBatch,
  UdpSendBatch,
} from '../../src/sys/mod.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const V4 = Uint8Array.of(127, 0, 0, 1);
const V6 = new Uint8Array(16);
V6[15] = 1;

/** `length` bytes of native memory: its address and a view. */
function nativeBytes(length: number): { address: number; bytes: Uint8Array } {
  const native = koffiNative();
  const pointer = native.alloc(length);
  return {
    address: Number(native.address(pointer)),
    bytes: new Uint8Array(native.view(pointer, length)),
  };
}

async function dgramReceiver(type: 'udp4' | 'udp6', address: string) {
  const socket = createSocket(type);
  const got: Buffer[] = [];
  socket.on('message', (msg: Buffer) => got.push(msg));
  socket.bind(0, address);
  await once(socket, 'listening');
  return { socket, got, port: socket.address().port };
}

async function until(what: string, done: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function closeDgram(socket: Socket): Promise<void> {
  return new Promise((r) => socket.close(() => r()));
}

test('UdpSendBatch sends N datagrams from native memory to IPv4 and IPv6 receivers, bytes and order exact', async () => {
  const r4 = await dgramReceiver('udp4', '127.0.0.1');
  const r6 = await dgramReceiver('udp6', '::1');
  const s4 = NativeUdpSocket.bind('IPv4', 0);
  const s6 = NativeUdpSocket.bind('IPv6', 0);
  try {
    const n = 40;
    const batch = UdpSendBatch.create(n);
    assert.ok(batch, 'sendmmsg is offered on this platform');
    const memory = nativeBytes(n * 256);
    const expected4: Buffer[] = [];
    const expected6: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const length = 1 + ((i * 37) % 200);
      const slot = memory.bytes.subarray(i * 256, i * 256 + length);
      for (let j = 0; j < length; j++) slot[j] = (i * 7 + j) & 0xff;
      // The first half to IPv4, the second half to IPv6 (two runs on two descriptors).
      if (i < n / 2) {
        batch.add(memory.address + i * 256, length, V4, r4.port);
        expected4.push(Buffer.from(slot));
      } else {
        batch.add(memory.address + i * 256, length, V6, r6.port);
        expected6.push(Buffer.from(slot));
      }
    }
    assert.equal(batch.length, n);
    assert.equal(batch.send(s4.fd, 0, n / 2), n / 2);
    assert.equal(batch.send(s6.fd, n / 2, n / 2), n / 2);
    await until('every datagram', () => r4.got.length >= n / 2 && r6.got.length >= n / 2);
    await sleep(20);
    assert.deepEqual(r4.got, expected4);
    assert.deepEqual(r6.got, expected6);
    // clear() reuses the memory: a second round sends again.
    batch.clear();
    assert.equal(batch.length, 0);
    batch.add(memory.address, 3, V4, r4.port);
    assert.equal(batch.send(s4.fd, 0, 1), 1);
    await until('the second round', () => r4.got.length === n / 2 + 1);
    assert.deepEqual(r4.got.at(-1), Buffer.from(memory.bytes.subarray(0, 3)));
  } finally {
    s4.close();
    s6.close();
    await closeDgram(r4.socket);
    await closeDgram(r6.socket);
  }
});

test('UdpSendBatch: an entry of the wrong family fails alone (negative errno), the rest of the run goes', async () => {
  const r4 = await dgramReceiver('udp4', '127.0.0.1');
  const s4 = NativeUdpSocket.bind('IPv4', 0);
  try {
    const batch = UdpSendBatch.create(5);
    assert.ok(batch);
    const memory = nativeBytes(5);
    memory.bytes.set([10, 11, 12, 13, 14]);
    for (let i = 0; i < 5; i++) {
      // Entry 2 names an IPv6 destination on an IPv4 socket.
      batch.add(memory.address + i, 1, i === 2 ? V6 : V4, r4.port);
    }
    // sendmmsg stops at the failing entry: the caller sees 2 sent, then the error alone, then
    // sends the rest, as the transmit ring does.
    assert.equal(batch.send(s4.fd, 0, 5), 2);
    const failed = batch.send(s4.fd, 2, 3);
    assert.ok(failed < 0, `entry 2 fails with a negative errno (got ${failed})`);
    assert.ok([-97, -22].includes(failed), `EAFNOSUPPORT or EINVAL (got ${failed})`);
    assert.equal(batch.send(s4.fd, 3, 2), 2);
    await until('4 datagrams', () => r4.got.length >= 4);
    await sleep(20);
    assert.deepEqual(
      r4.got.map((b) => b[0]),
      [10, 11, 13, 14],
    );
  } finally {
    s4.close();
    await closeDgram(r4.socket);
  }
});

test('UdpSendBatch refuses a full batch, a bad port, a bad length, a bad address and a bad range', () => {
  assert.throws(() => UdpSendBatch.create(0), RangeError);
  assert.throws(() => UdpSendBatch.create(MAX_UDP_SEND_BATCH + 1), RangeError);
  const batch = UdpSendBatch.create(2);
  assert.ok(batch);
  const { address } = nativeBytes(16);
  assert.throws(() => batch.add(address, 1, V4, 0), /port 0/);
  assert.throws(() => batch.add(address, 1, V4, 65536), /port 65536/);
  assert.throws(() => batch.add(address, 1, V4, 1.5), RangeError);
  assert.throws(() => batch.add(address, -1, V4, 9), /-1 bytes/);
  assert.throws(() => batch.add(address, 0x10000, V4, 9), /65536 bytes/);
  assert.throws(() => batch.add(0, 1, V4, 9), /bad data address/);
  assert.throws(() => batch.add(address, 1, new Uint8Array(5), 9), /4 or 16 bytes/);
  assert.equal(batch.length, 0, 'a refused entry is not added');
  batch.add(address, 1, V4, 9);
  batch.add(address, 1, V6, 9);
  assert.throws(() => batch.add(address, 1, V4, 9), /batch is full/);
  assert.throws(() => batch.send(-1, 0, 1), /bad descriptor/);
  assert.throws(() => batch.send(0, 1, 2), RangeError);
  assert.throws(() => batch.send(0, 0, 0), RangeError);
});

test('UdpRecvBatch + NativeUdpSocket: sizes 0..65507 arrive whole with source address and port; an empty queue reads 0', async () => {
  const socket = NativeUdpSocket.bind('IPv4', 0);
  const sender = createSocket('udp4');
  sender.bind(0, '127.0.0.1');
  await once(sender, 'listening');
  try {
    const slotLength = 65536;
    const memory = nativeBytes(8 * slotLength);
    const slots = Array.from({ length: 8 }, (_, i) => memory.address + i * slotLength);
    const batch = UdpRecvBatch.create(slots, slotLength);
    assert.ok(batch, 'recvmmsg is offered on this platform');
    assert.equal(batch.receive(socket.fd), 0, 'nothing queued reads 0');
    assert.throws(() => batch.length(0), RangeError);

    const sizes = [0, 1, 64, 1400, 65507];
    const sent = sizes.map((size, k) => Buffer.alloc(size, k + 1));
    const got: { length: number; bytes: Buffer; address: string; port: number; trunc: boolean }[] =
      [];
    socket.onReadable(() => {
      for (;;) {
        const n = batch.receive(socket.fd);
        assert.ok(n >= 0);
        if (n === 0) return;
        for (let i = 0; i < n; i++) {
          const source = batch.source(i);
          assert.ok(source);
          assert.equal(source.family, 'IPv4');
          const length = batch.length(i);
          got.push({
            length,
            bytes: Buffer.from(memory.bytes.subarray(i * slotLength, i * slotLength + length)),
            address: [...source.address].join('.'),
            port: source.port,
            trunc: batch.truncated(i),
          });
        }
      }
    });
    for (const bytes of sent) sender.send(bytes, socket.port, '127.0.0.1');
    await until('5 datagrams', () => got.length >= sizes.length);
    assert.deepEqual(
      got.map((g) => g.length),
      sizes,
    );
    for (let k = 0; k < sizes.length; k++) {
      assert.ok(got[k]?.bytes.equals(sent[k] as Buffer), `datagram ${k} bytes`);
      assert.equal(got[k]?.trunc, false);
      assert.equal(got[k]?.address, '127.0.0.1');
      assert.equal(got[k]?.port, sender.address().port);
    }
    assert.equal(batch.receive(socket.fd), 0, 'drained');
  } finally {
    socket.close();
    await closeDgram(sender);
  }
});

test('UdpRecvBatch over IPv6 reports the ::1 source, and a datagram longer than its slot as truncated', async () => {
  const socket = NativeUdpSocket.bind('IPv6', 0);
  const sender = createSocket({ type: 'udp6', ipv6Only: true });
  sender.bind(0, '::1');
  await once(sender, 'listening');
  try {
    const memory = nativeBytes(2 * 100);
    const batch = UdpRecvBatch.create([memory.address, memory.address + 100], 100);
    assert.ok(batch);
    sender.send(Buffer.alloc(50, 1), socket.port, '::1');
    sender.send(Buffer.alloc(150, 2), socket.port, '::1');
    let n = 0;
    await until('2 datagrams', () => {
      n += batch.receive(socket.fd) - n;
      return n >= 2;
    });
    assert.equal(batch.source(0)?.family, 'IPv6');
    assert.deepEqual([...(batch.source(0)?.address ?? [])], [...V6]);
    assert.equal(batch.source(1)?.port, sender.address().port);
    assert.equal(batch.length(0), 50);
    assert.equal(batch.truncated(0), false);
    assert.equal(batch.length(1), 100, 'at most the slot');
    assert.equal(batch.truncated(1), true);
  } finally {
    socket.close();
    await closeDgram(sender);
  }
});

test('UdpRecvBatch.create refuses bad slots', () => {
  assert.throws(() => UdpRecvBatch.create([], 10), RangeError);
  assert.throws(() => UdpRecvBatch.create([4096], 0), RangeError);
  assert.throws(() => UdpRecvBatch.create([4096], 0x10001), RangeError);
  assert.throws(() => UdpRecvBatch.create([0], 10), /bad slot address/);
  const ok = UdpRecvBatch.create([4096], 16); // not received into: only the layout is built
  assert.ok(ok);
  assert.throws(() => ok.receive(-1), /bad descriptor/);
});

test('NativeUdpSocket.bind: a busy port is UdpBindError EADDRINUSE; IPv6 is v6-only', async () => {
  const holder = NativeUdpSocket.bind('IPv4', 0);
  const v6 = NativeUdpSocket.bind('IPv6', 0);
  try {
    assert.ok(holder.port > 0);
    assert.throws(
      () => NativeUdpSocket.bind('IPv4', holder.port),
      (err: unknown) =>
        err instanceof UdpBindError &&
        err.errnoName === 'EADDRINUSE' &&
        err.port === holder.port &&
        err.code === 'ERR_SYS_UDP_BIND',
    );
    // A dgram socket on the same port is refused as well (the native one really holds it).
    const probe = createSocket('udp4');
    await assert.rejects(
      new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.bind(holder.port, '0.0.0.0', () => resolve());
      }),
      { code: 'EADDRINUSE' },
    );
    probe.close();
    // IPV6_V6ONLY: the IPv4 port of the same number is free.
    const v4 = NativeUdpSocket.bind('IPv4', v6.port);
    assert.equal(v4.port, v6.port);
    v4.close();
    assert.throws(() => NativeUdpSocket.bind('IPv6', v6.port), { errnoName: 'EADDRINUSE' });
    assert.throws(() => NativeUdpSocket.bind('IPv4', 65536), RangeError);
  } finally {
    holder.close();
    v6.close();
  }
});

test('NativeUdpSocket.close is idempotent: fd -1, sends refused, the port is free again', async () => {
  const receiver = await dgramReceiver('udp4', '127.0.0.1');
  const socket = NativeUdpSocket.bind('IPv4', 0);
  const port = socket.port;
  assert.ok(socket.fd >= 0);
  assert.equal(socket.closed, false);
  assert.equal(socket.sendTo(Buffer.from('hi'), V4, receiver.port), 0);
  await until('the datagram', () => receiver.got.length === 1);
  assert.equal(receiver.got[0]?.toString(), 'hi');
  assert.throws(() => socket.sendTo(Buffer.from('x'), V4, 0), RangeError);
  assert.throws(() => socket.sendTo(Buffer.from('x'), new Uint8Array(3), 9), RangeError);
  socket.onReadable(() => undefined);
  socket.close();
  assert.equal(socket.fd, -1);
  assert.equal(socket.closed, true);
  socket.close();
  assert.equal(socket.fd, -1);
  assert.throws(() => socket.sendTo(Buffer.from('x'), V4, receiver.port), /closed/);
  // onReadable after close watches nothing (no poll on a stale descriptor number).
  socket.onReadable(() => assert.fail('called after close'));
  const again = NativeUdpSocket.bind('IPv4', port);
  again.close();
  await closeDgram(receiver.socket);
});

test('an unreferenced NativeUdpSocket receiving datagrams lets its process exit by itself with code 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnetd-unref-'));
  const parent = createSocket('udp4');
  parent.bind(0, '127.0.0.1');
  await once(parent, 'listening');
  try {
    const script = join(dir, 'child.ts');
    writeFileSync(
      script,
      [
        `import { NativeUdpSocket } from ${JSON.stringify(join(ROOT, 'src/sys/mod.ts'))};`,
        `import { createSocket } from 'node:dgram';`,
        `const socket = NativeUdpSocket.bind('IPv4', 0);`,
        `let count = 0;`,
        `socket.onReadable(() => { count++; });`,
        `socket.unref();`,
        // Ask the parent to flood the socket; stay alive a little (a timer) while datagrams
        // arrive, then let the loop run dry with datagrams still arriving.
        `const ask = createSocket('udp4');`,
        `ask.send(String(socket.port), ${'Number(process.env.PARENT_PORT)'}, '127.0.0.1', () => ask.close());`,
        `setTimeout(() => { process.stdout.write('readable callbacks ' + (count > 0) + '\\n'); }, 300);`,
      ].join('\n'),
    );
    let childPort = 0;
    parent.on('message', (msg) => {
      childPort = Number(msg.toString());
    });
    const flood = setInterval(() => {
      if (childPort === 0) return;
      for (let i = 0; i < 50; i++) parent.send(Buffer.alloc(32), childPort, '127.0.0.1');
    }, 1);
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      env: { ...process.env, PARENT_PORT: String(parent.address().port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    clearTimeout(timer);
    clearInterval(flood);
    assert.equal(signal, null, `the child exits by itself (stderr: ${stderr})`);
    assert.equal(code, 0, `exit code 0 (stderr: ${stderr})`);
    assert.doesNotMatch(stderr, /FATAL|fatal|Abort/);
    assert.match(stdout, /readable callbacks true/, 'the socket was receiving while idle');
  } finally {
    parent.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
