/**
 * What keeps a process alive and what ends a wait: `unref()`/`ref()` on `IpSecDatagramSocket`
 * and `UdpEncapsulationSocket` (checked in a child process that must exit on its own, or must
 * not), and `messages({ signal })` on both, which ends with an `AbortError` and removes its
 * listeners. Real UDP sockets on loopback; children are killed by pid.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { IpSecManager } from '../../src/ipsec/mod.ts';
import { LO } from './_fixtures.ts';

const MOD = pathToFileURL(resolve(import.meta.dirname, '../../src/ipsec/mod.ts')).href;

/**
 * A child with an open encapsulation socket (NAT-keepalives every 10 ms) and a bound socket that
 * has a transform applied both ways; `mode` says what it does to them before going idle.
 */
const CHILD = `
import { randomBytes } from 'node:crypto';
import { IpSecAlgorithm, IpSecManager, IpSecTransform } from ${JSON.stringify(MOD)};
const mode = process.argv[1];
const ipsec = await IpSecManager.create({ keepaliveIntervalMs: 10 });
const encap = await ipsec.openUdpEncapsulationSocket();
const spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
const t = await new IpSecTransform.Builder(ipsec)
  .setAuthenticatedEncryption(new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128))
  .setIpv4Encapsulation(encap, encap.getPort())
  .buildTransportModeTransform('127.0.0.1', spi);
const socket = ipsec.createDatagramSocket('udp4');
const { port } = await socket.bind(0, '127.0.0.1');
await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, t);
await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_IN, t);
await socket.send('x', port, '127.0.0.1');
if (mode !== 'keep') { socket.unref(); encap.unref(); }
if (mode === 'ref-again') { socket.ref(); encap.ref(); }
process.stdout.write('idle\\n');
`;

/** Runs the child; resolves with its exit code, or 'alive' (then kills it) after `waitMs`. */
async function runChild(mode: string, waitMs: number): Promise<number | 'alive'> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', CHILD, mode],
    { cwd: resolve(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += String(chunk);
  });
  const exited = new Promise<number>((done) => child.once('exit', (code) => done(code ?? -1)));
  // Wait until the child is idle, then give it `waitMs` to exit.
  const startDeadline = Date.now() + 20_000;
  while (!out.includes('idle') && child.exitCode === null && Date.now() < startDeadline) {
    await delay(20);
  }
  assert.ok(out.includes('idle'), 'the child did not start');
  const outcome = await Promise.race([exited, delay(waitMs).then(() => 'alive' as const)]);
  if (outcome === 'alive' && child.pid !== undefined) {
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }
  return outcome;
}

test('unref() on both sockets lets a process with applied transforms and keepalives exit', async () => {
  assert.equal(await runChild('unref', 10_000), 0);
});

test('without unref(), or after ref() again, the open sockets keep the process alive', async () => {
  assert.equal(await runChild('keep', 1500), 'alive');
  assert.equal(await runChild('ref-again', 1500), 'alive');
});

test('IpSecDatagramSocket.messages({ signal }): abort ends the loop with AbortError and removes its listeners', async () => {
  await using ipsec = await IpSecManager.create();
  await using socket = ipsec.createDatagramSocket('udp4');
  const { port } = await socket.bind(0, LO);
  const listeners = socket.listenerCount('message');
  const closeListeners = socket.listenerCount('close');
  const controller = new AbortController();
  const reason = new Error('enough');
  const received: string[] = [];
  const loop = (async () => {
    for await (const { message } of socket.messages({ signal: controller.signal })) {
      received.push(String(message));
    }
  })();
  await socket.send('one', port, LO);
  while (received.length === 0) await delay(5);
  assert.equal(socket.listenerCount('message'), listeners + 1);
  controller.abort(reason);
  await assert.rejects(loop, (err: unknown) => {
    const e = err as { name?: string; code?: string; cause?: unknown };
    return e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause === reason;
  });
  assert.deepEqual(received, ['one']);
  assert.equal(socket.listenerCount('message'), listeners);
  assert.equal(socket.listenerCount('close'), closeListeners);
  // The socket itself is unaffected: a new loop receives.
  await socket.send('two', port, LO);
  for await (const { message } of socket) {
    assert.equal(String(message), 'two');
    break;
  }
});

test('an already aborted signal ends the loop at once; a signal that is not an AbortSignal is a TypeError', async () => {
  await using ipsec = await IpSecManager.create();
  await using socket = ipsec.createDatagramSocket('udp4');
  await socket.bind(0, LO);
  const iterator = socket.messages({ signal: AbortSignal.abort() });
  await assert.rejects(iterator.next(), { name: 'AbortError' });
  assert.equal(socket.listenerCount('message'), 0);
  assert.throws(() => socket.messages({ signal: {} as AbortSignal }), TypeError);
  assert.throws(() => socket.messages('x' as never), TypeError);
});

test('UdpEncapsulationSocket.messages({ signal }) ends on abort (AbortSignal.timeout)', async () => {
  await using ipsec = await IpSecManager.create();
  await using encap = await ipsec.openUdpEncapsulationSocket();
  const ike = Uint8Array.of(0, 0, 0, 0, 7);
  const seen: number[] = [];
  const loop = (async () => {
    for await (const { message } of encap.messages({ signal: AbortSignal.timeout(300) })) {
      seen.push(message.length);
    }
  })();
  await encap.send(ike, encap.getPort(), LO);
  await assert.rejects(loop, { name: 'AbortError', code: 'ABORT_ERR' });
  assert.deepEqual(seen, [ike.length]);
  assert.equal(encap.listenerCount('message'), 0);
});
