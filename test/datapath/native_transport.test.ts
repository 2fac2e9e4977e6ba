/**
 * The userspace data path's socket I/O through the public engine, with real sockets: a send
 * buffer that fills behind a rate-limited veth link (the `EAGAIN` backlog: every send settles,
 * datagrams arrive in order, beyond the bound sends fail with `ENOBUFS`, closing rejects the rest
 * with `ECANCELED`); a 'message' listener that throws in the middle of a receive batch; a send
 * queued for a socket closed before the flush; one `sendmmsg` run with an unroutable entry; and
 * `TSNETD_UDP_SENDMMSG=off`. Scenarios that need a process of their own (a namespace, a crash)
 * run test/datapath/helpers/native_transport_child.ts. With the node:crypto provider (the rings
 * are off) the same scenarios run over the dgram transport and assert that it is the one in use.
 *
 * @requires root (network namespaces, veth, tc)
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EspTxRing } from '../../src/datapath/esp_tx_ring.ts';
import { UserspaceEngine } from '../../src/datapath/mod.ts';
import { MAX_SEND_BACKLOG } from '../../src/datapath/native_encap_transport.ts';
import { DatapathStatistics } from '../../src/datapath/statistics.ts';
import { espCryptoProvider } from '../../src/esp/mod.ts';
import { NativeUdpSocket } from '../../src/sys/mod.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CHILD = resolve(import.meta.dirname, 'helpers/native_transport_child.ts');
/** Whether this run uses the native rings (not with TSNETD_ESP_CRYPTO=node-crypto). */
const NATIVE = espCryptoProvider() === 'openssl-native' && EspTxRing.shared() !== undefined;
const IP = '/usr/sbin/ip';
const TC = '/usr/sbin/tc';

const namespaces: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const ns of namespaces) {
    try {
      execFileSync(IP, ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});

function ip(...args: string[]): void {
  execFileSync(IP, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function newNamespace(): string {
  const name = `tsnetd-nt-${randomBytes(4).toString('hex')}`;
  ip('netns', 'add', name);
  namespaces.push(name);
  ip('-n', name, 'link', 'set', 'lo', 'up');
  return name;
}

function removeNamespace(name: string): void {
  ip('netns', 'del', name);
  namespaces.splice(namespaces.indexOf(name), 1);
}

interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
}

/** Starts the child scenario, in namespace `ns` when given. */
function startChild(
  ns: string | undefined,
  args: readonly string[],
  env: Record<string, string> = {},
): Run {
  const command = [process.execPath, '--import', 'tsx', CHILD, ...args];
  const [file, ...rest] = ns === undefined ? command : [IP, 'netns', 'exec', ns, ...command];
  const child = spawn(file as string, rest, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: once(child, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as string | null,
    })),
  };
  child.stdout?.on('data', (d: Buffer) => {
    run.stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    run.stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void run.exited.then(() => clearTimeout(timer));
  return run;
}

/** The last JSON line a finished child printed. */
async function result<T>(run: Run): Promise<T> {
  const { code, signal } = await run.exited;
  assert.equal(signal, null, `child killed (stderr: ${run.stderr})`);
  assert.equal(code, 0, `child failed (stderr: ${run.stderr})`);
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as T;
}

async function untilOutput(run: Run, text: string): Promise<void> {
  for (let i = 0; i < 600 && !run.stdout.includes(text); i++) {
    if (run.child.exitCode !== null) break;
    await sleep(50);
  }
  assert.ok(run.stdout.includes(text), `child said "${text}" (stderr: ${run.stderr})`);
}

/** Asserts the transport in use: native rings, or the dgram transport with the node:crypto run. */
function assertKind(kind: { fd: number; ring: boolean }): void {
  if (NATIVE) {
    assert.ok(kind.fd >= 0, 'the native transport owns a descriptor');
    assert.equal(kind.ring, true, 'ESP leaves through the transmit ring');
  } else {
    assert.equal(kind.fd, -1, 'the dgram transport');
    assert.equal(kind.ring, false, 'no transmit ring');
  }
}

type Tally = Record<string, number>;

/** `'ok'`, the error's code, or `'never settled'` after `ms`. */
function outcomeWithin(promise: Promise<void>, ms: number): Promise<string> {
  return Promise.race([
    promise.then(
      () => 'ok',
      (err: unknown) => String((err as { code?: unknown }).code),
    ),
    sleep(ms).then(() => 'never settled'),
  ]);
}

test('EAGAIN backlog behind a rate-limited link: every send settles, in order, ENOBUFS beyond the bound, ECANCELED on close', async () => {
  const a = newNamespace();
  const b = newNamespace();
  try {
    ip('-n', a, 'link', 'add', 'nta', 'type', 'veth', 'peer', 'name', 'ntb', 'netns', b);
    ip('-n', a, 'addr', 'add', '10.201.0.1/24', 'dev', 'nta');
    ip('-n', b, 'addr', 'add', '10.201.0.2/24', 'dev', 'ntb');
    ip('-n', a, 'link', 'set', 'nta', 'up');
    ip('-n', b, 'link', 'set', 'ntb', 'up');
    // A slow sending side: the datagrams wait in the qdisc, charged to the socket's send buffer.
    execFileSync(
      IP,
      [
        'netns',
        'exec',
        a,
        TC,
        'qdisc',
        'add',
        'dev',
        'nta',
        'root',
        'tbf',
        'rate',
        '4mbit',
        'burst',
        '4kb',
        'limit',
        '2mb',
      ],
      { stdio: 'ignore' },
    );
    const port = 20_000 + (randomBytes(2).readUInt16BE(0) % 20_000);
    const receiver = startChild(b, ['receive', '10.201.0.2', String(port), '3000']);
    await untilOutput(receiver, 'ready');
    const sender = startChild(a, ['backlog', '10.201.0.1', '10.201.0.2', String(port)]);
    const sent = await result<{
      kind: { fd: number; ring: boolean };
      first: { esp: Tally; ike: Tally };
      second: { esp: Tally; ike: Tally };
      txDropErrorFirst: number;
      txEspFirst: number;
      txIkeFirst: number;
    }>(sender);
    const got = await result<{ esp: number[]; ike: number[] }>(receiver);
    assertKind(sent.kind);

    // The wire: exactly the accepted datagrams arrived, each kind in send order.
    const accepted = (sent.first.esp.ok ?? 0) + (sent.second.esp.ok ?? 0);
    assert.equal(got.esp.length, accepted, 'ESP datagrams accepted = ESP datagrams on the wire');
    for (let i = 1; i < got.esp.length; i++) {
      if ((got.esp[i] as number) <= (got.esp[i - 1] as number)) {
        assert.fail(
          `ESP out of order at ${i} of ${got.esp.length}: sequence ${got.esp[i - 1]} then ${got.esp[i]}`,
        );
      }
    }
    assert.equal(got.ike.length, (sent.first.ike.ok ?? 0) + (sent.second.ike.ok ?? 0));
    for (let i = 1; i < got.ike.length; i++) {
      assert.ok((got.ike[i] as number) > (got.ike[i - 1] as number), 'IKE in send order');
    }

    // Every send of the first burst settled: success or, natively, ENOBUFS past the bound.
    const firstEsp = sent.first.esp;
    const firstIke = sent.first.ike;
    assert.equal((firstEsp.ok ?? 0) + (firstEsp.ENOBUFS ?? 0), 4400, JSON.stringify(firstEsp));
    assert.equal((firstIke.ok ?? 0) + (firstIke.ENOBUFS ?? 0), 44, JSON.stringify(firstIke));
    if (NATIVE) {
      const refused = (firstEsp.ENOBUFS ?? 0) + (firstIke.ENOBUFS ?? 0);
      assert.ok(refused > 0, `the backlog bound was reached: ${JSON.stringify(sent)}`);
      // Accepted: the backlog (MAX_SEND_BACKLOG) plus what the kernel took before it filled.
      assert.ok((firstEsp.ok ?? 0) + (firstIke.ok ?? 0) >= MAX_SEND_BACKLOG);
      assert.equal(sent.txDropErrorFirst, refused, 'each refusal counted tx.drop.error');
    } else {
      assert.equal(firstEsp.ok, 4400, 'libuv queues every dgram send');
    }
    assert.equal(sent.txEspFirst, firstEsp.ok);
    assert.equal(sent.txIkeFirst, firstIke.ok);

    // The second burst: every send settled; closing rejected what still waited, ECANCELED.
    const secondEsp = sent.second.esp;
    const secondIke = sent.second.ike;
    const settled2 = Object.values(secondEsp).reduce((x, y) => x + y, 0);
    assert.equal(settled2, 600, JSON.stringify(secondEsp));
    assert.equal(
      Object.values(secondIke).reduce((x, y) => x + y, 0),
      6,
    );
    if (NATIVE) {
      assert.ok(
        (secondEsp.ECANCELED ?? 0) > 0,
        `closing cancelled the backlog ${JSON.stringify(secondEsp)}`,
      );
      assert.deepEqual(
        Object.keys(secondEsp).filter((k) => k !== 'ok' && k !== 'ECANCELED'),
        [],
      );
    }
  } finally {
    removeNamespace(a);
    removeNamespace(b);
  }
});

test('a message listener that throws mid-batch: the rest of the batch is delivered, the error is uncaught', async () => {
  const run = startChild(undefined, ['throwing-receiver']);
  const { code, signal } = await run.exited;
  assert.equal(signal, null);
  assert.notEqual(code, 0, 'the process died of the error');
  assert.match(run.stderr, /boom from a message listener/);
  const lines = run.stdout.trim().split('\n');
  assertKind((JSON.parse(lines[0] as string) as { kind: { fd: number; ring: boolean } }).kind);
  const got = lines.slice(1);
  if (NATIVE) {
    // All ten datagrams of the receive batch, in order, before the error surfaced.
    assert.deepEqual(
      got,
      Array.from({ length: 10 }, (_, i) => `got m${i}`),
    );
  } else {
    // dgram: one callback per datagram; the process dies at the throwing one.
    assert.deepEqual(got, ['got m0', 'got m1', 'got m2']);
  }
});

test('a datagram queued in the transmit ring for a socket closed before the flush is refused with EBADF and never sent', async () => {
  const ring = EspTxRing.shared();
  if (!NATIVE) {
    assert.equal(ring, undefined, 'no transmit ring with the node:crypto provider');
    return;
  }
  assert.ok(ring);
  const receiver = createSocket('udp4');
  let received = 0;
  receiver.on('message', () => received++);
  receiver.bind(0, '127.0.0.1');
  await once(receiver, 'listening');
  const socket = NativeUdpSocket.bind('IPv4', 0);
  const statistics = new DatapathStatistics();
  const sender = {
    get fd() {
      return socket.fd;
    },
    sendQueueLength: 0,
    sendRaw: () => Promise.reject(new Error('not used')),
  };
  try {
    const slot = ring.claim();
    assert.ok(slot);
    slot.set(Buffer.from('must not leave'));
    const sent = ring.commit(
      sender,
      14,
      receiver.address().port,
      '127.0.0.1',
      Uint8Array.of(127, 0, 0, 1),
      statistics,
    );
    socket.close(); // before the microtask flush
    assert.equal(await outcomeWithin(sent, 3000), 'EBADF');
    await assert.rejects(sent, { code: 'EBADF', syscall: 'sendmmsg' });
    assert.equal(ring.pending, 0);
    assert.equal(statistics.snapshot()['tx.drop.error'], 1);
    assert.equal(statistics.snapshot()['tx.esp'], 0);
    await sleep(100);
    assert.equal(received, 0, 'nothing was sent');
  } finally {
    socket.close();
    receiver.close();
  }
});

test('a protected send, then the encapsulation socket closed at once: the send settles and leaves exactly once', async () => {
  const receiver = createSocket('udp4');
  let received = 0;
  receiver.on('message', () => received++);
  receiver.bind(0, '127.0.0.1');
  await once(receiver, 'listening');
  const engine = new UserspaceEngine();
  try {
    const encap = await engine.openEncapSocket({ port: 0, family: 'IPv4', keepaliveIntervalMs: 0 });
    assertKind({ fd: encap.fd, ring: encap.txRing !== undefined });
    const sa = engine.createSa({
      spi: 0x5000,
      sourceAddress: '127.0.0.1',
      destinationAddress: '127.0.0.1',
      family: 'IPv4',
      aead: { name: 'rfc4106(gcm(aes))', key: new Uint8Array(20).fill(7), icvLengthBits: 128 },
      encapSocket: encap,
      remotePort: receiver.address().port,
      replayWindowSize: 64,
      esn: false,
    });
    const a = engine.createProtectedSocket('udp4');
    await a.bind(0, '127.0.0.1');
    engine.applyToSocket(a, 'out', sa);
    const sent = a.send(Buffer.from('last'), 9, '127.0.0.1');
    if (NATIVE) assert.equal(encap.txRing?.pending, 1, 'queued in the ring, not yet sent');
    const closing = engine.closeEncapSocket(encap);
    assert.equal(encap.fd, -1, 'the descriptor is gone at once');
    const outcome = await outcomeWithin(sent, 3000);
    await closing;
    await sleep(100);
    // Accepted before the close, so it settles and leaves exactly once: natively the ring flushes
    // before the descriptor closes (it never names a closed one); with dgram the send reaches
    // libuv before the handle closes. A send that never settles is a defect either way.
    assert.equal(outcome, 'ok');
    assert.equal(received, 1, 'sent exactly once');
  } finally {
    await engine.close();
    receiver.close();
  }
});

test('one sendmmsg run with an unroutable entry: only that send fails (ENETUNREACH), the others leave in order', async () => {
  const ns = newNamespace(); // only lo: 10.203.0.9 has no route
  try {
    const sent = await result<{
      kind: { fd: number; ring: boolean };
      outcomes: string[];
      esp: number[];
      txEsp: number;
      txDropError: number;
    }>(startChild(ns, ['unreachable']));
    assertKind(sent.kind);
    assert.deepEqual(sent.outcomes, ['ok', 'ok', 'ok', 'ENETUNREACH', 'ok', 'ok', 'ok']);
    assert.deepEqual(sent.esp, [1, 2, 3, 4, 5, 6], 'the six others arrived, in order');
    assert.equal(sent.txEsp, 6);
    assert.equal(sent.txDropError, 1);
  } finally {
    removeNamespace(ns);
  }
});

test('TSNETD_UDP_SENDMMSG=off: the dgram transport carries a protected round trip', async () => {
  const off = await result<{
    kind: { fd: number; ring: boolean };
    message: string;
    txEsp: number;
    rxEsp: number;
  }>(startChild(undefined, ['round-trip'], { TSNETD_UDP_SENDMMSG: 'off' }));
  assert.deepEqual(off.kind, { fd: -1, ring: false });
  assert.equal(off.message, 'round trip');
  assert.equal(off.txEsp, 1);
  assert.equal(off.rxEsp, 1);
  // Without the variable, the same round trip uses the native transport (when it is offered).
  const on = await result<{ kind: { fd: number; ring: boolean }; message: string }>(
    startChild(undefined, ['round-trip']),
  );
  assertKind(on.kind);
  assert.equal(on.message, 'round trip');
});

test('a clear-text send on a protected socket closed at once settles and leaves exactly once', async () => {
  const receiver = createSocket('udp4');
  let received = 0;
  receiver.on('message', () => received++);
  receiver.bind(0, '127.0.0.1');
  await once(receiver, 'listening');
  const engine = new UserspaceEngine();
  try {
    const a = engine.createProtectedSocket('udp4');
    await a.bind(0, '127.0.0.1');
    const sent = a.send(Buffer.from('clear'), receiver.address().port, '127.0.0.1');
    const closing = a.close();
    assert.equal(await outcomeWithin(sent, 3000), 'ok');
    await closing;
    await sleep(100);
    assert.equal(received, 1);
    await assert.rejects(a.send(Buffer.from('late'), receiver.address().port, '127.0.0.1'), {
      name: 'SocketClosedError',
    });
  } finally {
    await engine.close();
    receiver.close();
  }
});
