/**
 * Fair service of the netd socket (src/netd/server.ts), on real Unix sockets with clients run
 * as other users (`setpriv`): one user cannot hold more than its share of connections, silent
 * and trickling connections are closed, a client that never reads costs bounded memory that is
 * released when it leaves, a half-closed client still gets every reply — and another client is
 * served throughout.
 *
 * @requires root (setpriv clients as other users)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_INBOX_BYTES, NetdServer } from '../../src/netd/server.ts';
import { Conn } from './helpers/conn.ts';
import { tempDir } from './helpers/netns.ts';

const dir = tempDir();
chmodSync(dir.path, 0o755);
after(() => dir.remove());
let counter = 0;

async function listen(options: Partial<Parameters<typeof NetdServer.listen>[0]> = {}) {
  counter += 1;
  const socketPath = join(dir.path, `netd${counter}`);
  let executed = 0;
  const server = await NetdServer.listen({
    socketPath,
    execute: async (argv) => {
      executed += 1;
      if (argv[0] === 'slow') await sleep(60);
      return [
        { code: 200, message: argv[0] === 'big' ? 'x'.repeat(1000) : `ok ${argv.join(' ')}` },
      ];
    },
    ...options,
  });
  chmodSync(socketPath, 0o666); // let the setpriv clients in; the caps apply per uid anyway
  return { server, socketPath, executed: () => executed };
}

/** Opens `count` connections as `uid` and reports, per connection, its first line or "open". */
function holdConnections(uid: number, socketPath: string, count: number): Promise<string[]> {
  const script = `
    const net = require('net'); const out = [];
    let left = ${count};
    for (let i = 0; i < ${count}; i++) {
      const s = net.connect(${JSON.stringify(socketPath)});
      let got = false;
      s.on('data', (d) => { if (!got) { got = true; out[i] = d.toString('latin1').replace(/\\0/g, ''); } });
      s.on('error', () => { out[i] = out[i] || 'error'; });
      setTimeout(() => { if (!got) out[i] = 'open'; if (--left === 0) { process.stdout.write(JSON.stringify(out)); process.exit(0); } }, 800);
    }`;
  return new Promise((resolve, reject) => {
    const child = spawn(
      'setpriv',
      [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, '-e', script],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.once('close', () => {
      try {
        resolve(JSON.parse(text) as string[]);
      } catch (error) {
        reject(error);
      }
    });
  });
}

test('per-uid cap: one user gets at most its share; root and other users are still served', async () => {
  const { server, socketPath } = await listen({ maxConnectionsPerUid: 4, maxConnections: 6 });
  try {
    const hog = holdConnections(1000, socketPath, 8);
    await sleep(300);
    const root = await Conn.open(socketPath);
    assert.equal(await root.request('1 ping'), '200 1 ok ping');
    const other = await holdConnections(1001, socketPath, 1);
    const results = await hog;
    assert.equal(results.filter((r) => r === 'open').length, 4, JSON.stringify(results));
    assert.equal(
      results.filter((r) => r === '521 0 Too many connections (uid 1000)').length,
      4,
      JSON.stringify(results),
    );
    assert.deepEqual(other, ['open'], 'uid 1001 got a connection while uid 1000 held its four');
    root.close();
    assert.ok(server.stats().refusedConnections >= 4);
  } finally {
    await server.close();
  }
});

test('idle timeout: silent and trickling connections are closed, a busy one is kept', async () => {
  const { server, socketPath } = await listen({ idleTimeoutMs: 600 });
  try {
    const silent = await Conn.open(socketPath);
    const trickle = await Conn.open(socketPath);
    const busy = await Conn.open(socketPath);
    const closed = (c: Conn) =>
      new Promise<number>((resolve) => {
        const t0 = Date.now();
        c.socket.once('close', () => resolve(Date.now() - t0));
      });
    const silentClosed = closed(silent);
    const trickleClosed = closed(trickle);
    const start = Date.now();
    let trickling = true;
    void (async () => {
      while (trickling && !trickle.socket.destroyed) {
        trickle.write('x'); // never a NUL: no request completes
        await sleep(50);
      }
    })();
    for (let i = 0; Date.now() - start < 2000; i++) {
      assert.equal(await busy.request(`${i} ping`), `200 ${i} ok ping`);
      await sleep(50);
    }
    trickling = false;
    const silentMs = await silentClosed;
    const trickleMs = await trickleClosed;
    assert.ok(silentMs >= 500 && silentMs < 1900, `silent connection closed after ${silentMs} ms`);
    assert.ok(
      trickleMs >= 500 && trickleMs < 1900,
      `trickling connection closed after ${trickleMs} ms`,
    );
    assert.equal(busy.socket.destroyed, false, 'a connection that keeps sending requests stays');
    assert.ok(server.stats().idleClosed >= 2);
    busy.close();
  } finally {
    await server.close();
  }
});

test('a client that never reads costs bounded memory, freed when it leaves; others are served', async () => {
  const { server, socketPath, executed } = await listen();
  const watcher = await Conn.open(socketPath);
  const hog: Socket = connect(socketPath);
  try {
    await new Promise<void>((resolve) => hog.once('connect', () => resolve()));
    hog.pause(); // never read
    const request = Buffer.from('0 big\0');
    const batch = Buffer.concat(Array(2000).fill(request));
    let peak = 0;
    for (let i = 0; i < 100; i++) {
      hog.write(batch); // 1.2 MB of requests, 1 KiB replies each
      peak = Math.max(peak, server.stats().inboxBytes);
      if (i % 10 === 0) {
        assert.equal(await watcher.request(`${i} ping`), `200 ${i} ok ping`);
      }
    }
    await sleep(300);
    peak = Math.max(peak, server.stats().inboxBytes);
    const done = executed();
    assert.ok(
      done < 20_000,
      `daemon executed ${done} of 200 000 requests for a client that never reads`,
    );
    assert.ok(peak <= MAX_INBOX_BYTES + 256 * 1024, `peak unprocessed input ${peak} bytes`);
    hog.destroy();
    await sleep(200);
    const after = executed();
    await sleep(300);
    assert.equal(executed(), after, 'nothing more is processed for a client that left');
    assert.deepEqual(
      { connections: server.stats().connections, inboxBytes: server.stats().inboxBytes },
      { connections: 1, inboxBytes: 0 },
    );
    assert.equal(await watcher.request('7 ping'), '200 7 ok ping');
  } finally {
    hog.destroy();
    watcher.close();
    await server.close();
  }
});

test('a half-closed client (shutdown(SHUT_WR) after three commands) gets all three replies', async () => {
  const { server, socketPath } = await listen();
  try {
    const lines = await new Promise<string[]>((resolve, reject) => {
      const s = connect({ path: socketPath, allowHalfOpen: true });
      let buf = '';
      s.on('connect', () => {
        s.write('1 slow a\0' + '2 slow b\0' + '3 slow c\0');
        s.end(); // SHUT_WR: nothing more from us, but we keep reading
      });
      s.on('data', (d) => {
        buf += d.toString('latin1');
      });
      s.on('end', () => resolve(buf.split('\0').filter((l) => l !== '')));
      s.on('error', reject);
    });
    assert.deepEqual(lines, ['200 1 ok slow a', '200 2 ok slow b', '200 3 ok slow c']);
  } finally {
    await server.close();
  }
});
