/**
 * The two-peer guide (docs/two-peers.md) as it is written: `examples/two-peers/peer.mjs`, plain
 * JavaScript on the built package, run as two processes on loopback with keys from a 0600 file.
 * Datagrams flow both ways before, during and after a rekey in the safe order (new inbound on both
 * peers, then new outbound on both, then the old transforms closed); every datagram must arrive
 * exactly once, and the new transforms must carry the traffic after the switch. Needs `npm run
 * build` (npm test builds first).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const PEER = join(ROOT, 'examples/two-peers/peer.mjs');
const TIMEOUT_MS = 30_000;

const dir = mkdtempSync(join(tmpdir(), 'tsnetd-two-peers-'));
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface PeerEvent {
  readonly event: string;
  readonly [key: string]: unknown;
}

/** A running peer: its events in order, and the texts of the datagrams it received. */
class Peer {
  readonly received: string[] = [];
  readonly #events: PeerEvent[] = [];
  readonly #waiters: (() => void)[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stderr = '';
  stdout = '';

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [PEER, ...args], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(this.child);
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr += String(d);
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.stdout += `${line}\n`;
      const e = JSON.parse(line) as PeerEvent;
      if (e.event === 'message') this.received.push(String(e.text));
      else this.#events.push(e);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Sends a command and waits for the next event of `kind`. */
  async command(line: string, kind: string): Promise<PeerEvent> {
    this.child.stdin?.write(`${line}\n`);
    return this.next(kind);
  }

  async next(kind: string): Promise<PeerEvent> {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const i = this.#events.findIndex((e) => e.event === kind);
      if (i !== -1) return this.#events.splice(i, 1)[0]!;
      const error = this.#events.find((e) => e.event === 'error');
      assert.equal(error, undefined, `peer error: ${JSON.stringify(error)}`);
      assert.ok(Date.now() < deadline, `no ${kind} event; stderr: ${this.stderr}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  /** Waits until `count` datagrams have arrived. */
  async receivedCount(count: number): Promise<void> {
    const deadline = Date.now() + TIMEOUT_MS;
    while (this.received.length < count && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Free UDP ports on 127.0.0.1 (bound, noted, released). */
async function freePorts(n: number): Promise<number[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createSocket>>((r) => {
          const s = createSocket('udp4');
          s.bind(0, '127.0.0.1', () => r(s));
        }),
    ),
  );
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

function expectAll(received: readonly string[], from: string, total: number): void {
  const want = Array.from({ length: total }, (_, i) => `${from}#${i}`);
  const missing = want.filter((w) => !received.includes(w));
  assert.deepEqual(missing, [], `lost datagrams from ${from}`);
  assert.equal(received.length, total, `duplicates from ${from}`);
}

test('keygen writes a new key file of mode 0600 and refuses to overwrite it', () => {
  const keys = join(dir, 'keygen.json');
  execFileSync(process.execPath, [PEER, 'keygen', keys], { cwd: ROOT, timeout: TIMEOUT_MS });
  assert.equal(statSync(keys).mode & 0o777, 0o600);
  const file = JSON.parse(readFileSync(keys, 'utf8')) as { generations: unknown[] };
  assert.equal(file.generations.length, 2);
  assert.throws(() =>
    execFileSync(process.execPath, [PEER, 'keygen', keys], {
      cwd: ROOT,
      timeout: TIMEOUT_MS,
      stdio: 'pipe',
    }),
  );
});

test('a peer refuses a key file that others can read', async () => {
  const keys = join(dir, 'open.json');
  writeFileSync(keys, '{"generations":[]}');
  chmodSync(keys, 0o644);
  const peer = new Peer(['a', keys, '127.0.0.1:0:0', '127.0.0.1:1:1']);
  assert.equal(await peer.exited, 1);
  assert.match(peer.stderr, /must belong to you and have mode 0600/);
});

test('two processes exchange data both ways before, during and after a rekey, losing nothing', async () => {
  const keys = join(dir, 'keys.json');
  execFileSync(process.execPath, [PEER, 'keygen', keys], { cwd: ROOT, timeout: TIMEOUT_MS });
  const [encapA, dataA, encapB, dataB] = await freePorts(4);
  const endA = `127.0.0.1:${encapA}:${dataA}`;
  const endB = `127.0.0.1:${encapB}:${dataB}`;
  const a = new Peer(['a', keys, endA, endB]);
  const b = new Peer(['b', keys, endB, endA]);
  await Promise.all([a.next('ready'), b.next('ready')]);

  const both = (line: string, kind: string) =>
    Promise.all([a.command(line, kind), b.command(line, kind)]);

  // Generation 0, both ways.
  await both('send 100', 'sent');
  await Promise.all([a.receivedCount(100), b.receivedCount(100)]);
  expectAll(b.received, 'a', 100);
  expectAll(a.received, 'b', 100);

  // Safe order, with traffic between every step: new inbound on both peers first...
  await both('rekey-in 1', 'inbound-applied');
  await both('send 50', 'sent');
  // ...then new outbound on both...
  const switched = await both('rekey-out 1', 'outbound-applied');
  assert.deepEqual(
    switched.map((e) => e.generation),
    [1, 1],
  );
  await both('send 50', 'sent');
  await Promise.all([a.receivedCount(200), b.receivedCount(200)]);
  // ...then the old transforms are closed once nothing is in flight on them.
  const closed = await both('close-old', 'closed-old');
  assert.deepEqual(
    closed.map((e) => e.open),
    [[1], [1]],
  );
  await both('send 100', 'sent');
  await Promise.all([a.receivedCount(300), b.receivedCount(300)]);
  expectAll(b.received, 'a', 300);
  expectAll(a.received, 'b', 300);

  // The new SAs carried everything sent after the switch: 50 + 100 datagrams each way.
  const [stateA, stateB] = await both('state', 'state');
  for (const s of [stateA, stateB]) {
    assert.deepEqual((s as unknown as { state: unknown }).state, {
      in1: { tx: '0', rx: '150' },
      out1: { tx: '150', rx: '0' },
    });
  }

  a.child.stdin?.end('quit\n');
  b.child.stdin?.end('quit\n');
  assert.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0]);
  // No key byte ever reached the output.
  const file = JSON.parse(readFileSync(keys, 'utf8')) as {
    generations: Record<string, { key: string }>[];
  };
  for (const generation of file.generations) {
    for (const sa of Object.values(generation)) {
      assert.ok(!a.stdout.includes(sa.key) && !b.stdout.includes(sa.key), 'a key was printed');
    }
  }
});
