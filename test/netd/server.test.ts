/**
 * NetdServer over a real Unix socket, with tsnetd running in a fresh network namespace:
 * pipelining, split requests, many concurrent clients, a bounded protocol fuzz against the live
 * daemon while another client keeps being answered correctly, stale-socket replacement,
 * refusal of a non-socket path, SIGINT clean-up.
 *
 * @requires root (network namespaces)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Conn } from './helpers/conn.ts';
import { Daemon, daemonSuite } from './helpers/netns.ts';

/** Fuzz bound: iterations and wall-clock budget. */
const FUZZ_ITERATIONS = Number(process.env.TSNETD_FUZZ_ITERATIONS ?? 2000);
const FUZZ_BUDGET_MS = 8000;
const REPLY_REGEXP = /^\d{3} -?\d+ \S/;

const suite = daemonSuite('tsnetd-srv', async ({ ns, socketPath }) => {
  ns.addLink('oem0');
  // A stale socket: left behind by a process killed with SIGKILL.
  const stale = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(socketPath)})`,
  ]);
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    try {
      if (statSync(socketPath).isSocket()) break;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  stale.kill('SIGKILL');
  await new Promise((r) => stale.once('exit', r));
  assert.ok(statSync(socketPath).isSocket(), 'stale socket left behind');
});
const { ns, dir, socketPath } = suite;

test('a stale socket file is replaced and the new one has mode 0660', async () => {
  assert.equal(statSync(socketPath).mode & 0o777, 0o660);
  const c = await Conn.open(socketPath);
  assert.equal(await c.request('1 ipfwd status'), '211 1 Forwarding disabled');
  c.close();
});

test('a path that is not a socket is never replaced', async () => {
  const path = join(dir.path, 'regular-file');
  writeFileSync(path, 'keep me');
  const d = Daemon.spawn(undefined, path);
  assert.equal(await d.exited(), 1);
  assert.match(d.stderr, /the path exists and is not a socket/);
  assert.equal(readFileSync(path, 'utf8'), 'keep me');
});

test('pipelined requests in one write are answered in order with their sequence numbers', async () => {
  const c = await Conn.open(socketPath);
  const requests = [
    '1 ipfwd status',
    '2 network create oem1',
    '3 frob',
    '4 network create oem1',
    '5 network destroy oem1',
  ];
  c.write(requests.map((r) => `${r}\u0000`).join(''));
  assert.deepEqual(await c.waitLines(5), [
    '211 1 Forwarding disabled',
    '200 2 success',
    '500 3 Command not recognized',
    '400 4 createPhysicalNetwork() failed (File exists)',
    '200 5 success',
  ]);
  c.close();
});

test('a request split over many writes is reassembled', async () => {
  const c = await Conn.open(socketPath);
  for (const ch of '9 ipfwd status\0') {
    c.write(ch);
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.deepEqual(await c.waitLines(1), ['211 9 Forwarding disabled']);
  c.close();
});

test('protocol errors get the exact 500 replies and keep the connection usable', async () => {
  const c = await Conn.open(socketPath);
  assert.equal(await c.request('4 ipfwd status'), '211 4 Forwarding disabled');
  assert.equal(await c.request('5 ipfwd st\\atus'), '500 5 Unsupported escape sequence');
  assert.equal(await c.request('6 ipfwd "status'), '500 6 Unclosed quotes error');
  assert.equal(
    await c.request(`7 ${Array.from({ length: 27 }, () => 'a').join(' ')}`),
    '500 7 Command too long',
  );
  assert.equal(
    await c.request(`8 ipfwd ${Array.from({ length: 25 }, () => 'a').join(' ')}`),
    '500 8 Unknown ipfwd cmd',
  );
  assert.equal(await c.request('x9 ipfwd status'), '500 8 Invalid sequence number');
  assert.equal(await c.request(`10 ${'a'.repeat(1100)}`), '500 8 Command too large for buffer');
  assert.equal(await c.request('0x10 ipfwd "sta"tus'), '211 16 Forwarding disabled');
  assert.equal(await c.request('010 ipfwd \\"status\\"'), '500 8 Unknown ipfwd cmd');
  c.close();
});

test('many concurrent clients each get their own correct replies', async () => {
  const clients = await Promise.all(Array.from({ length: 40 }, () => Conn.open(socketPath)));
  await Promise.all(
    clients.map(async (c, i) => {
      const netId = `${200 + i}`;
      c.write(
        `${i} network create ${netId}\0${i + 1000} network create ${netId}\0${i} network destroy ${netId}\0`,
      );
      assert.deepEqual(await c.waitLines(3), [
        `200 ${i} success`,
        `400 ${i + 1000} createPhysicalNetwork() failed (File exists)`,
        `200 ${i} success`,
      ]);
    }),
  );
  for (const c of clients) c.close();
});

function randomGarbage(i: number): { bytes: Buffer; expect?: RegExp } {
  const kinds = [
    () => ({ bytes: randomBytes(1 + (i % 200)) }),
    () => ({
      bytes: Buffer.from(`${i} "unterminated quote\0`, 'latin1'),
      expect: new RegExp(`^500 ${i} Unclosed quotes error$`),
    }),
    () => ({
      bytes: Buffer.from(`${i} ${'x '.repeat(27)}\0`, 'latin1'),
      expect: new RegExp(`^500 ${i} Command too long$`),
    }),
    () => ({ bytes: Buffer.from(`${i} ${'y'.repeat(1500)}`, 'latin1') }),
    () => ({
      bytes: Buffer.from(`${i} net\\work\0`, 'latin1'),
      expect: new RegExp(`^500 ${i} Unsupported escape sequence$`),
    }),
    () => ({
      bytes: Buffer.from(`${i} ipfwd "a\\"b" \\\\ "\0`, 'latin1'),
      expect: /^500 -?\d+ Unclosed quotes error$/,
    }),
    () => ({ bytes: Buffer.from(`\0\0\0${i}\0`, 'latin1') }),
    () => ({ bytes: Buffer.concat([randomBytes(50), Buffer.from([0])]) }),
  ];
  return (kinds[i % kinds.length] as () => { bytes: Buffer; expect?: RegExp })();
}

test('protocol fuzz against the live daemon: it stays up and keeps answering another client', async () => {
  const watcher = await Conn.open(socketPath);
  let watching = true;
  let watched = 0;
  const watchLoop = (async () => {
    while (watching) {
      const seq = 100000 + watched;
      assert.equal(await watcher.request(`${seq} ipfwd status`), `211 ${seq} Forwarding disabled`);
      watched += 1;
    }
  })();
  const start = Date.now();
  let iterations = 0;
  for (; iterations < FUZZ_ITERATIONS && Date.now() - start < FUZZ_BUDGET_MS; iterations += 4) {
    await Promise.all(
      [0, 1, 2, 3].map(async (k) => {
        const i = iterations + k;
        const c = await Conn.open(socketPath);
        const g = randomGarbage(i);
        c.write(g.bytes);
        if (g.expect !== undefined) {
          const [line] = await c.waitLines(1);
          assert.match(line as string, g.expect);
        }
        // Whatever came before, a NUL and a valid request must be answered.
        c.write('\0');
        c.write(`${i} ipfwd status\0`);
        const deadline = Date.now() + 5000;
        while (!c.lines.includes(`211 ${i} Forwarding disabled`)) {
          assert.ok(
            Date.now() < deadline,
            `no answer after garbage ${i}: ${JSON.stringify(c.lines)}`,
          );
          await c.waitLines(c.lines.length + 1);
        }
        for (const line of c.lines)
          assert.match(line, REPLY_REGEXP, `malformed reply ${JSON.stringify(line)}`);
        // Half the clients vanish without waiting, mid-stream.
        if (i % 2 === 0) c.write(randomBytes(30));
        c.close();
      }),
    );
  }
  watching = false;
  await watchLoop;
  watcher.close();
  assert.ok(iterations >= 40, `only ${iterations} fuzz iterations ran`);
  assert.ok(watched > 10, `watcher answered ${watched} times`);
  assert.equal(suite.daemon.process.exitCode, null, 'daemon still running');
  assert.doesNotMatch(suite.daemon.stderr, /internal error|fatal/);
});

test('SIGINT shuts down cleanly: exit 0, socket removed, rules restored', async () => {
  const c = await Conn.open(socketPath);
  assert.equal(await c.request('1 network create oem3'), '200 1 success');
  assert.equal(await c.request('2 network interface add oem3 oem0'), '200 2 success');
  suite.daemon.process.kill('SIGINT');
  assert.equal(await suite.daemon.exited(), 0);
  c.close();
  assert.throws(() => statSync(socketPath), { code: 'ENOENT' });
  assert.deepEqual(ns.rules(4), [
    '0: from all lookup local',
    '32766: from all lookup main',
    '32767: from all lookup default',
  ]);
  assert.deepEqual(ns.rules(6), ['0: from all lookup local', '32766: from all lookup main']);
  assert.equal(ns.mangle(4).length, 5);
});
