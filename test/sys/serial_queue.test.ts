/**
 * SerialQueue, the project's one promise mutex (netlink socket, IPsec service core, netd, netd's
 * per-connection replies): tasks run one at a time in submission order, and a failing task
 * neither stops nor reorders the ones after it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialQueue } from '../../src/sys/mod.ts';

test('tasks run one at a time, in the order they were queued, whatever their durations', async () => {
  const queue = new SerialQueue();
  const events: string[] = [];
  let running = 0;
  const task = (name: string, ms: number) => async (): Promise<string> => {
    running++;
    assert.equal(running, 1, `${name} overlapped another task`);
    events.push(`start ${name}`);
    await sleep(ms);
    events.push(`end ${name}`);
    running--;
    return name;
  };
  const results = await Promise.all([
    queue.run(task('a', 30)),
    queue.run(task('b', 1)),
    queue.run(() => {
      events.push('sync c');
      return 'c';
    }),
    queue.run(task('d', 10)),
  ]);
  assert.deepEqual(results, ['a', 'b', 'c', 'd']);
  assert.deepEqual(events, ['start a', 'end a', 'start b', 'end b', 'sync c', 'start d', 'end d']);
});

test('a failing task rejects only its own caller; the queue goes on in order', async () => {
  const queue = new SerialQueue();
  const order: string[] = [];
  const first = queue.run(async () => {
    await sleep(5);
    order.push('first');
    throw new Error('boom');
  });
  const second = queue.run(() => {
    order.push('second');
    throw new TypeError('sync boom');
  });
  const third = queue.run(async () => {
    order.push('third');
    return 3;
  });
  await assert.rejects(first, /boom/);
  await assert.rejects(second, TypeError);
  assert.equal(await third, 3);
  assert.deepEqual(order, ['first', 'second', 'third']);
});

test('idle() waits for everything queued before it and never rejects', async () => {
  const queue = new SerialQueue();
  let done = 0;
  const failing = queue.run(async () => {
    await sleep(10);
    done++;
    throw new Error('ignored by idle');
  });
  failing.catch(() => undefined);
  void queue.run(async () => {
    await sleep(5);
    done++;
  });
  await queue.idle();
  assert.equal(done, 2);
  await assert.rejects(failing);
});
