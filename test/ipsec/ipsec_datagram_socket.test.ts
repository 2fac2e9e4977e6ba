/**
 * `IpSecDatagramSocket` rules that need more than the shared suite: protection from the moment
 * apply is called (apply/remove are asynchronous here, synchronous on Android), the bounded
 * `for await` queue under a real flood, and the largest datagram that fits one ESP-in-UDP
 * datagram (IPv4 and IPv6, AES-GCM and AES-CBC + HMAC). Real UDP sockets on loopback only; the
 * "slow" backend is the real userspace backend whose apply/remove wait for a gate, as a busy
 * kernel or service would.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type BackendDatagramSocket,
  type BackendSa,
  IllegalArgumentError,
  IllegalStateError,
  IpSecManager,
  type IpSecTransform,
  type TransformDirection,
  UserspaceBackend,
} from '../../src/ipsec/mod.ts';
import { drain, flood, LO, LO6, loopbackTransform, plainSocket, settle } from './_fixtures.ts';
import {
  assertLargestClearThenTooLong,
  assertLargestProtectedThenTooLong,
  largestProtectedPayload,
  MAX_UDP,
  OVERSIZE_CASES,
} from './_oversize.ts';
import { nextMessage } from './_suite.ts';

const { DIRECTION_IN: IN, DIRECTION_OUT: OUT } = IpSecManager;

/** The userspace backend, with apply and remove held until `release()` after `hold()`. */
class GatedBackend extends UserspaceBackend {
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => undefined;
  hold(): void {
    this.#gate = new Promise<void>((resolve) => {
      this.#open = resolve;
    });
  }
  release(): void {
    this.#open();
  }
  override async applyToSocket(
    socket: BackendDatagramSocket,
    direction: TransformDirection,
    sa: BackendSa,
  ): Promise<void> {
    await this.#gate;
    return super.applyToSocket(socket, direction, sa);
  }
  override async removeFromSocket(socket: BackendDatagramSocket): Promise<void> {
    await this.#gate;
    return super.removeFromSocket(socket);
  }
}

async function withGatedBackend(
  body: (backend: GatedBackend, ipsec: IpSecManager) => Promise<void>,
): Promise<void> {
  const backend = new GatedBackend();
  try {
    await using ipsec = await IpSecManager.create({ backend, keepaliveIntervalMs: 0 });
    try {
      await body(backend, ipsec);
    } finally {
      backend.release(); // a failed assertion must not leave the service queue blocked
    }
  } finally {
    await backend.close();
  }
}

/** A test (30 s budget) on a gated backend's manager with a loopback transform `t`. */
function gatedTest(
  name: string,
  body: (backend: GatedBackend, ipsec: IpSecManager, t: IpSecTransform) => Promise<void>,
): void {
  test(name, { timeout: 30_000 }, async () => {
    await withGatedBackend(async (backend, ipsec) => {
      await using t = await loopbackTransform(ipsec);
      await body(backend, ipsec, t);
    });
  });
}

// --- Gap 1: protection from the moment apply is called ---------------------------------------

gatedTest(
  'a send() issued right after an unawaited applyTransportModeTransform(OUT) leaves as ESP',
  async (backend, ipsec, t) => {
    await using rx = ipsec.createDatagramSocket('udp4');
    const { port } = await rx.bind(0, LO);
    await ipsec.applyTransportModeTransform(rx, IN, t);
    await using tx = ipsec.createDatagramSocket('udp4');
    await tx.bind(0, LO);
    backend.hold();
    const applying = ipsec.applyTransportModeTransform(tx, OUT, t);
    const got = nextMessage(rx, 2000);
    const sending = tx.send('secret', port, LO); // Android: protected, apply was synchronous
    await delay(100);
    assert.equal(ipsec.getStatistics()['drop.unprotected'] ?? 0, 0, 'left in clear text');
    backend.release();
    await applying;
    await sending;
    assert.equal(String((await got)?.message), 'secret');
    assert.equal(ipsec.getStatistics()['rx.esp'], 1);
    assert.equal(ipsec.getStatistics()['drop.unprotected'] ?? 0, 0);
  },
);

test(
  'a send() issued while an outbound apply is pending fails with the apply error when it fails',
  { timeout: 30_000 },
  async () => {
    await using ipsec = await IpSecManager.create({ keepaliveIntervalMs: 0 });
    const closed = await loopbackTransform(ipsec);
    await closed.close();
    await using sniffer = await plainSocket();
    await using tx = ipsec.createDatagramSocket('udp4');
    await tx.bind(0, LO);
    const heard = nextMessage(sniffer, 300);
    const applying = ipsec.applyTransportModeTransform(tx, OUT, closed);
    const sending = tx.send('must not leave', sniffer.address().port, LO);
    const applyError = await applying.then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(applyError instanceof IllegalArgumentError);
    await assert.rejects(sending, (err: unknown) => err === applyError);
    assert.equal(await heard, undefined, 'sent in clear text');
    // Sends issued after the failed apply settled are ordinary clear-text sends again.
    const later = nextMessage(sniffer, 2000);
    await tx.send('clear, no transform', sniffer.address().port, LO);
    assert.equal(String((await later)?.message), 'clear, no transform');
  },
);

gatedTest(
  'clear text is dropped from the moment applyTransportModeTransform(IN) is called',
  async (backend, ipsec, t) => {
    await using rx = ipsec.createDatagramSocket('udp4');
    const { port } = await rx.bind(0, LO);
    await using peer = await plainSocket();
    backend.hold();
    const applying = ipsec.applyTransportModeTransform(rx, IN, t);
    const got = nextMessage(rx, 300);
    peer.send('clear text after apply', port, LO);
    assert.equal(await got, undefined, 'clear text delivered after apply was called');
    assert.equal(ipsec.getStatistics()['drop.unprotected'], 1);
    backend.release();
    await applying;
  },
);

gatedTest(
  'a send() issued right after an unawaited removeTransportModeTransforms() waits and leaves in clear text',
  async (backend, ipsec, t) => {
    await using tx = ipsec.createDatagramSocket('udp4');
    await tx.bind(0, LO);
    await ipsec.applyTransportModeTransform(tx, OUT, t);
    await ipsec.applyTransportModeTransform(tx, IN, t);
    await using sniffer = await plainSocket();
    backend.hold();
    const removing = ipsec.removeTransportModeTransforms(tx);
    const heard = nextMessage(sniffer, 2000);
    const sending = tx.send('after remove', sniffer.address().port, LO);
    await delay(50);
    assert.equal(ipsec.getStatistics()['rx.esp'] ?? 0, 0, 'sealed with a transform being removed');
    backend.release();
    await removing;
    await sending;
    assert.equal(String((await heard)?.message), 'after remove');
    assert.equal(ipsec.getStatistics()['rx.esp'] ?? 0, 0);
  },
);

gatedTest(
  'close() racing a pending apply: the apply and the waiting send fail, nothing leaves in clear text',
  async (backend, ipsec, t) => {
    await using sniffer = await plainSocket();
    const tx = ipsec.createDatagramSocket('udp4');
    await tx.bind(0, LO);
    const heard = nextMessage(sniffer, 300);
    backend.hold();
    const applying = ipsec.applyTransportModeTransform(tx, OUT, t);
    const sending = tx.send('x', sniffer.address().port, LO);
    const closing = tx.close();
    backend.release();
    await closing;
    await assert.rejects(applying, IllegalStateError);
    await assert.rejects(sending, IllegalStateError);
    assert.equal(await heard, undefined, 'sent in clear text');
  },
);

// --- Gap 2: bounded for-await queue ------------------------------------------------------------

test(
  'a for-await loop that does not keep up holds at most receiveQueueLength datagrams and counts drop.queue-full',
  { timeout: 30_000 },
  async () => {
    await using ipsec = await IpSecManager.create({
      receiveQueueLength: 16,
      keepaliveIntervalMs: 0,
    });
    await using rx = ipsec.createDatagramSocket('udp4');
    const { port } = await rx.bind(0, LO);
    const order: string[] = [];
    rx.on('message', (msg: Buffer) => order.push(String(msg)));
    const iterator = rx[Symbol.asyncIterator]();
    const first = iterator.next(); // the consumer takes one datagram, then stalls
    await using peer = await plainSocket();
    await flood(peer, port, 3000, (j) => Buffer.from(`datagram ${j}`.padEnd(64, '.')));
    const received = await settle(() => order.length);
    assert.ok(received > 500, `only ${received} datagrams arrived`);
    assert.equal((await first).value?.message.toString(), order[0]);
    const queued = await drain(iterator);
    assert.equal(queued.length, 16, 'the queue grew past its cap');
    // Like a full receive buffer: the oldest are kept, the newest dropped.
    assert.deepEqual(
      queued.map((m) => String(m.message)),
      order.slice(1, 17),
    );
    assert.equal(ipsec.getStatistics()['drop.queue-full'], received - 17);
    void iterator.return?.(); // settles when the socket closes (a next() is still pending)
  },
);

test(
  'IpSecManager.create() refuses a receiveQueueLength outside 1..1048576',
  { timeout: 30_000 },
  async () => {
    for (const bad of [0, -1, 1_048_577]) {
      await assert.rejects(IpSecManager.create({ receiveQueueLength: bad }), IllegalArgumentError);
    }
    for (const bad of [1.5, Number.NaN]) {
      await assert.rejects(IpSecManager.create({ receiveQueueLength: bad }), TypeError);
    }
  },
);

// --- Gap 3: the largest datagram ----------------------------------------------------------------

for (const family of ['IPv4', 'IPv6'] as const) {
  const address = family === 'IPv4' ? LO : LO6;
  const type = family === 'IPv4' ? 'udp4' : 'udp6';

  for (const c of OVERSIZE_CASES) {
    test(
      `${family} ${c.name}: the largest payload that fits one ESP-in-UDP datagram arrives intact, one byte more throws MessageTooLongError before sealing`,
      { timeout: 30_000 },
      async () => {
        const max = largestProtectedPayload(MAX_UDP[family], c.iv, c.block, c.icv);
        await using ipsec = await IpSecManager.create({ keepaliveIntervalMs: 0 });
        await using t = await loopbackTransform(ipsec, family, c.configure());
        await assertLargestProtectedThenTooLong(ipsec, t, type, address, max, 3000);
      },
    );
  }

  test(
    `${family} clear text: ${MAX_UDP[family]} bytes arrive intact, one byte more throws MessageTooLongError (dgram's limit)`,
    { timeout: 30_000 },
    async () => {
      const max = MAX_UDP[family];
      await using ipsec = await IpSecManager.create({ keepaliveIntervalMs: 0 });
      await assertLargestClearThenTooLong(ipsec, type, address, max, 3000);
    },
  );
}
