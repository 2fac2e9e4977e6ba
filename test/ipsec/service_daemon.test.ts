/**
 * The IPsec service daemon on THIS host, whose kernel has no ESP: the daemon starts anyway and
 * every request fails with the in-process backend's `KernelBackendUnavailableError` reason; a
 * client with no daemon is refused at once, naming the path; the socket's mode and group; and the
 * wire protocol's bounds against hostile peers (malformed, oversized, wrong version, descriptors
 * in excess, too many connections, a peer that never reads) while a well-behaved client is
 * served. Real Unix sockets, real descriptors (the kernel-ESP proofs run in the guest:
 * test/interop/ipsec_service.test.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  IpSecServiceRunningError,
  IpSecServiceServer,
} from '../../src/ipsec/ipsec_service_daemon.ts';
import {
  IpSecManager,
  IpSecServiceUnavailableError,
  KernelBackendUnavailableError,
} from '../../src/ipsec/mod.ts';
import {
  encodeFrame,
  FrameReader,
  KIND_REPLY,
  KIND_REQUEST,
  MAX_BODY_LENGTH,
  Op,
  WireProtocolError,
} from '../../src/ipsec/service/wire.ts';
import {
  closeDescriptor,
  connectUnixStream,
  receiveWithDescriptors,
  sendWithDescriptors,
} from '../../src/sys/descriptor_passing.ts';

const dir = mkdtempSync(join(tmpdir(), 'tsnetd-ipsec-svc-'));
const path = join(dir, 'ipsec');
let server: IpSecServiceServer;

before(async () => {
  server = await IpSecServiceServer.listen({ socketPath: path, maxConnectionsPerUid: 8 });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Waits until `fd` is closed by the daemon (EOF) or `ms` passed; true on EOF. */
async function closedByDaemon(fd: number, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const r = receiveWithDescriptors(fd, 65536);
      if (r === 'eof') return true;
    } catch {
      return true;
    }
    await sleep(20);
  }
  return false;
}

/** A well-behaved client still gets its answer (hello through IpSecManager). */
async function stillServed(): Promise<void> {
  await using ipsec = await IpSecManager.create({ backend: 'service', servicePath: path });
  assert.equal(ipsec.backendName, 'service');
}

test('no daemon: IpSecManager.create rejects at once, naming the path', async () => {
  const missing = join(dir, 'nobody-here');
  const started = Date.now();
  await assert.rejects(IpSecManager.create({ backend: 'service', servicePath: missing }), (err) => {
    assert.ok(err instanceof IpSecServiceUnavailableError);
    assert.equal(err.code, 'ERR_IPSEC_SERVICE_UNAVAILABLE');
    assert.ok(err.message.includes(missing), err.message);
    return true;
  });
  assert.ok(Date.now() - started < 1000);
  // a socket file nobody listens on (a dead daemon's): refused too
  const dead = join(dir, 'dead');
  const s = await IpSecServiceServer.listen({ socketPath: dead });
  await s.close();
  writeFileSync(join(dir, 'plain-file'), '');
  await assert.rejects(
    IpSecManager.create({ backend: 'service', servicePath: join(dir, 'plain-file') }),
    IpSecServiceUnavailableError,
  );
});

test('kernel without ESP: the daemon serves, every request fails with the in-process reason', async () => {
  let inProcess: KernelBackendUnavailableError | undefined;
  try {
    await (await IpSecManager.create({ backend: 'kernel' })).close();
  } catch (err: unknown) {
    if (err instanceof KernelBackendUnavailableError) inProcess = err;
  }
  assert.ok(inProcess !== undefined, 'this host is expected to have no kernel ESP');
  await using ipsec = await IpSecManager.create({ backend: 'service', servicePath: path });
  for (const call of [
    () => ipsec.allocateSecurityParameterIndex('127.0.0.1', 0x1234),
    () => ipsec.allocateSecurityParameterIndex('127.0.0.1'),
    () => ipsec.openUdpEncapsulationSocket(),
  ]) {
    await assert.rejects(call(), (err) => {
      assert.ok(err instanceof KernelBackendUnavailableError);
      assert.equal(err.reason, inProcess?.reason);
      return true;
    });
  }
});

test('socket mode 0666 by default; a second daemon on the path is refused', async () => {
  assert.equal(statSync(path).mode & 0o777, 0o666);
  await assert.rejects(IpSecServiceServer.listen({ socketPath: path }), IpSecServiceRunningError);
  await stillServed();
});

test('--ipsec-group: the socket belongs to the group, mode 0660', async () => {
  const grouped = join(dir, 'grouped');
  const gid = process.getgid?.() ?? 0;
  const s = await IpSecServiceServer.listen({ socketPath: grouped, groupId: gid });
  try {
    const st = statSync(grouped);
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, gid);
  } finally {
    await s.close();
  }
});

test('the frame codec: round trip, split delivery, bounds', () => {
  const secret = Uint8Array.of(1, 2, 3, 4);
  const frame = encodeFrame(KIND_REQUEST, Op.createSa, 7, { spiId: 3 }, secret);
  const reader = new FrameReader();
  assert.deepEqual(reader.push(frame.subarray(0, 5)), []);
  const [decoded] = reader.push(frame.subarray(5));
  assert.equal(decoded?.op, Op.createSa);
  assert.equal(decoded?.requestId, 7);
  assert.deepEqual(decoded?.json, { spiId: 3 });
  assert.deepEqual([...(decoded?.secret ?? [])], [1, 2, 3, 4]);
  const bad = (bytes: Uint8Array) =>
    assert.throws(() => new FrameReader().push(bytes), WireProtocolError);
  const wrongVersion = Uint8Array.from(frame);
  wrongVersion[0] = 2;
  bad(wrongVersion);
  const oversized = Uint8Array.from(frame);
  new DataView(oversized.buffer).setUint32(8, MAX_BODY_LENGTH + 1);
  bad(oversized);
  const notJson = encodeFrame(KIND_REPLY, Op.hello, 1, {});
  notJson[16] = 0x7b + 1;
  bad(notJson);
  const tooManyFds = Uint8Array.from(frame);
  tooManyFds[3] = 5;
  bad(tooManyFds);
  assert.throws(() => encodeFrame(KIND_REQUEST, Op.hello, 1, {}, new Uint8Array(MAX_BODY_LENGTH)));
});

test('hostile peers are cut off, one by one, while a client is served', async () => {
  const hostile: Array<{ name: string; bytes: Uint8Array; fds?: number[] }> = [
    { name: 'garbage', bytes: randomBytes(64) },
    { name: 'wrong version', bytes: Uint8Array.of(9, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0) },
    { name: 'oversized', bytes: Uint8Array.of(1, 1, 1, 0, 0, 0, 0, 1, 0x7f, 0, 0, 0) },
    { name: 'reply kind', bytes: encodeFrame(KIND_REPLY, Op.hello, 1, {}) },
    { name: 'unknown op', bytes: encodeFrame(KIND_REQUEST, 99, 1, {}) },
    {
      name: 'missing descriptor',
      bytes: encodeFrame(KIND_REQUEST, Op.remove, 1, {}, undefined, 1),
    },
  ];
  for (const h of hostile) {
    const fd = connectUnixStream(path);
    try {
      sendWithDescriptors(fd, h.bytes);
      assert.ok(await closedByDaemon(fd), `${h.name}: the daemon kept the connection`);
    } finally {
      closeDescriptor(fd);
    }
    await stillServed();
  }
  // descriptors nobody announced (a pipe end, repeatedly): refused, and closed by the kernel/daemon
  const fd = connectUnixStream(path);
  try {
    const hello = encodeFrame(KIND_REQUEST, Op.hello, 1, {});
    for (let i = 0; i < 6; i++) sendWithDescriptors(fd, hello.subarray(0, 1), [0, 1]);
    assert.ok(await closedByDaemon(fd));
  } finally {
    closeDescriptor(fd);
  }
  await stillServed();
});

test('connections per UID are bounded; the ones beyond are closed, the rest still served', async () => {
  const fds: number[] = [];
  try {
    for (let i = 0; i < 12; i++) fds.push(connectUnixStream(path));
    await sleep(300);
    const hello = encodeFrame(KIND_REQUEST, Op.hello, 1, {});
    let answered = 0;
    for (const fd of fds) {
      try {
        sendWithDescriptors(fd, hello);
      } catch {
        continue;
      }
      await sleep(30);
      const r = receiveWithDescriptors(fd, 65536);
      if (typeof r === 'object' && r.data.length > 0) answered++;
    }
    assert.equal(answered, 8, 'exactly the per-UID limit is served');
  } finally {
    for (const fd of fds) closeDescriptor(fd);
  }
  await sleep(200);
  await stillServed();
});

test('a client that never reads its replies is disconnected; others are served', async () => {
  const fd = connectUnixStream(path);
  try {
    const hello = encodeFrame(KIND_REQUEST, Op.hello, 1, {});
    let eof = false;
    for (let i = 0; i < 20_000 && !eof; i++) {
      try {
        if (sendWithDescriptors(fd, hello) < 0) await sleep(5);
      } catch {
        eof = true;
      }
      if (i % 500 === 0) await sleep(1);
    }
    // drain what was answered before the cut, then the end of stream
    assert.ok(eof || (await closedByDaemon(fd, 5000)), 'the non-reading client was kept');
  } finally {
    closeDescriptor(fd);
  }
  await stillServed();
  assert.ok(server.connectionCount <= 1);
});
