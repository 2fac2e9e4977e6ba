/**
 * `UdpEncapsulationSocket`: the `for await` adapter over IKE messages is bounded like a socket
 * receive buffer (default 1024 datagrams) under a real flood of non-ESP-marker datagrams on
 * loopback; the overflow is dropped (newest first) and counted as `drop.queue-full`. Which
 * messages fill the queue's last places depends on how many datagrams one receive delivers
 * (one per callback with `dgram`, a batch with `recvmmsg`); the bound and the count do not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_RECEIVE_QUEUE_LENGTH,
  IpSecManager,
  type UdpEncapsulationSocket,
} from '../../src/ipsec/mod.ts';
import { drain, flood, plainSocket, settle } from './_fixtures.ts';

const NON_ESP_MARKER = Buffer.alloc(4);

async function floodAndDrain(
  ipsec: IpSecManager,
  encap: UdpEncapsulationSocket,
  count: number,
): Promise<{ received: string[]; queued: string[] }> {
  const received: string[] = [];
  encap.on('message', (msg: Buffer) => received.push(String(msg)));
  const iterator = encap[Symbol.asyncIterator]();
  const first = iterator.next(); // takes one message, then stalls
  {
    await using peer = await plainSocket();
    await flood(peer, encap.getPort(), count, (j) =>
      Buffer.concat([NON_ESP_MARKER, Buffer.from(`IKE ${j}`.padEnd(60, '.'))]),
    );
    await settle(() => received.length);
  }
  assert.equal(String((await first).value?.message), received[0]);
  const queued = (await drain(iterator)).map((m) => String(m.message));
  void iterator.return?.(); // settles when the socket closes (a next() is still pending)
  assert.ok(ipsec.getStatistics()['rx.ike'] !== undefined);
  return { received, queued };
}

test(
  'UdpEncapsulationSocket for-await holds at most receiveQueueLength IKE messages under a flood and counts drop.queue-full',
  { timeout: 30_000 },
  async () => {
    await using ipsec = await IpSecManager.create({
      receiveQueueLength: 8,
      keepaliveIntervalMs: 0,
    });
    await using encap = await ipsec.openUdpEncapsulationSocket();
    const { received, queued } = await floodAndDrain(ipsec, encap, 2000);
    assert.ok(received.length > 500, `only ${received.length} datagrams arrived`);
    // The queue keeps the oldest messages after the one the loop took, in arrival order: the
    // first seven always, and the eighth slot goes to the first message that arrived after the
    // loop took its one (with batched receives, that can be a later message than the 9th).
    assert.equal(queued.length, 8);
    assert.deepEqual(queued.slice(0, 7), received.slice(1, 8));
    const positions = queued.map((m) => received.indexOf(m));
    assert.deepEqual(
      positions,
      [...positions].sort((x, y) => x - y),
      'arrival order',
    );
    assert.equal(ipsec.getStatistics()['drop.queue-full'], received.length - 9);
  },
);

test(
  `UdpEncapsulationSocket for-await is bounded by default (${DEFAULT_RECEIVE_QUEUE_LENGTH} messages)`,
  { timeout: 30_000 },
  async () => {
    await using ipsec = await IpSecManager.create({ keepaliveIntervalMs: 0 });
    await using encap = await ipsec.openUdpEncapsulationSocket();
    const { received, queued } = await floodAndDrain(ipsec, encap, 2500);
    assert.ok(
      received.length > DEFAULT_RECEIVE_QUEUE_LENGTH + 1,
      `only ${received.length} arrived`,
    );
    assert.equal(queued.length, DEFAULT_RECEIVE_QUEUE_LENGTH);
    assert.equal(
      ipsec.getStatistics()['drop.queue-full'],
      received.length - 1 - DEFAULT_RECEIVE_QUEUE_LENGTH,
    );
  },
);
