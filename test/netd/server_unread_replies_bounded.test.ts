/**
 * Security review of the netd socket server (netd's FrameworkListener framing): a client that
 * pipelines requests but never reads its replies must not make the daemon buffer replies without
 * bound. Real Unix sockets; the executor is a plain function (the kernel is not involved).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetdServer } from '../../src/netd/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'tsnetd-review-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('review: a client that never reads stops being served once its replies back up', async () => {
  const socketPath = join(dir, 'netd-bp');
  let executed = 0;
  // A large reply per request (~1 KiB) makes a non-reading client cost the daemon memory fast.
  const server = await NetdServer.listen({
    socketPath,
    execute: async () => {
      executed += 1;
      return [{ code: 200, message: 'x'.repeat(1000) }];
    },
  });
  const client = connect(socketPath);
  try {
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    client.pause(); // never read
    const request = Buffer.from('0 ipfwd status\0');
    const total = 50_000; // 50 000 replies of 1 KiB = 50 MiB if nothing pushes back
    const batch = Buffer.concat(Array(1000).fill(request));
    for (let i = 0; i < total / 1000; i++) client.write(batch);
    // Let the daemon work until it stops making progress.
    let last = -1;
    for (let i = 0; i < 60 && executed !== last; i++) {
      last = executed;
      await sleep(100);
    }
    assert.ok(executed < total / 4, `daemon executed ${executed} of ${total} unread requests`);
  } finally {
    client.destroy();
    await server.close();
  }
});
