/**
 * The NAT-keepalive scheduler both backends share: reference-counted peers per socket, one pass
 * per interval over the registered sockets, cut into slices that let the event loop run, and no
 * timer left once no socket has a peer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NatKeepaliveScheduler } from '../../src/datapath/mod.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function nextPass(scheduler: NatKeepaliveScheduler): Promise<void> {
  const passes = scheduler.passes;
  while (scheduler.passes === passes) await wait(2);
}

test('peers are reference-counted: a peer stays until its last SA leaves', async () => {
  const scheduler = new NatKeepaliveScheduler(5);
  const sent: string[] = [];
  const r = scheduler.register((address, port) => sent.push(`${address}:${port}`));
  r.targets.add('127.0.0.2', 4500);
  r.targets.add('127.0.0.2', 4500);
  r.targets.add('127.0.0.3', 4500);
  r.targets.remove('127.0.0.2', 4500);
  await nextPass(scheduler);
  sent.length = 0;
  await nextPass(scheduler);
  assert.deepEqual(sent.sort(), ['127.0.0.2:4500', '127.0.0.3:4500']);
  r.targets.remove('127.0.0.2', 4500);
  r.targets.remove('127.0.0.9', 1); // unknown: ignored
  sent.length = 0;
  await nextPass(scheduler);
  assert.deepEqual(sent, ['127.0.0.3:4500']);
  r.close();
});

test('a pass over many peers is sliced and the event loop runs between slices', async () => {
  const scheduler = new NatKeepaliveScheduler(20, { sliceBudgetMs: 0 });
  let sent = 0;
  let immediatesDuringPass = 0;
  let inPass = false;
  const registrations = [1, 2, 3].map(() =>
    scheduler.register(() => {
      sent++;
      inPass = true;
    }),
  );
  for (const [n, r] of registrations.entries()) {
    for (let i = 0; i < 2000; i++) r.targets.add(`127.${n + 1}.${i >> 8}.${i & 255}`, 4500);
  }
  const spin = (): void => {
    if (inPass) immediatesDuringPass++;
    if (scheduler.passes < 2) setImmediate(spin);
  };
  setImmediate(spin);
  while (scheduler.passes < 2) await wait(5);
  const last = scheduler.lastPass;
  assert.equal(last?.sent, 6000);
  assert.ok((last?.slices ?? 0) > 10, `slices ${last?.slices}`);
  assert.ok(immediatesDuringPass > 10, 'other callbacks ran between slices');
  assert.ok(sent >= 12000);
  registrations[1]?.close();
  await nextPass(scheduler);
  assert.equal(scheduler.lastPass?.sent, 4000, 'a closed socket is skipped');
  for (const r of registrations) r.close();
});

test('the slice budget counts send work deferred to process.nextTick (as dgram.send does)', async () => {
  // Each send does 0.2 ms of work after the slice's loop returns, as dgram.send finishes in a
  // nextTick. Counting only the loop's own time, a slice of 128 sends would block the loop for
  // 25 ms or more; with the deferred work counted, a slice stays near its 2 ms budget.
  const scheduler = new NatKeepaliveScheduler(1000, { sliceBudgetMs: 2 });
  const busy = (ms: number): void => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };
  let sent = 0;
  const r = scheduler.register(() => {
    process.nextTick(() => {
      busy(0.2);
      sent++;
    });
  });
  for (let i = 0; i < 3000; i++) r.targets.add(`127.1.${i >> 8}.${i & 255}`, 4500);
  const gaps: number[] = [];
  let previous = performance.now();
  const spin = (): void => {
    const now = performance.now();
    if (scheduler.running) gaps.push(now - previous);
    previous = now;
    if (scheduler.passes < 1) setImmediate(spin);
  };
  setImmediate(spin);
  while (scheduler.passes < 1) await wait(20);
  r.close();
  const last = scheduler.lastPass;
  assert.equal(last?.sent, 3000);
  assert.equal(sent, 3000, 'every deferred send ran before the pass ended');
  gaps.sort((a, b) => a - b);
  const p90 = gaps[Math.floor(gaps.length * 0.9)] ?? Number.POSITIVE_INFINITY;
  assert.ok(p90 < 8, `p90 gap between slices ${p90.toFixed(2)} ms (budget 2 ms)`);
  assert.ok(gaps.length > 100, `${gaps.length} gaps between slices`);
  assert.ok((last?.slices ?? 0) > 3000 / 20, `slices ${last?.slices}`);
  assert.ok((last?.longestSliceMs ?? 0) >= 0.2, 'the longest slice includes the deferred work');
});

test('no pass runs once no socket has a peer (the timer is stopped)', async () => {
  const scheduler = new NatKeepaliveScheduler(5);
  const r = scheduler.register(() => undefined);
  r.targets.add('127.0.0.2', 4500);
  await nextPass(scheduler);
  r.targets.remove('127.0.0.2', 4500);
  const passes = scheduler.passes;
  await wait(60);
  assert.equal(scheduler.passes, passes, 'a pass ran with no peer');
  const r2 = scheduler.register(() => undefined);
  r2.targets.add('127.0.0.2', 4500);
  await nextPass(scheduler);
  r2.close();
  const after = scheduler.passes;
  await wait(60);
  assert.equal(scheduler.passes, after, 'a pass ran after the last socket closed');
  assert.throws(() => new NatKeepaliveScheduler(0), RangeError);
});
