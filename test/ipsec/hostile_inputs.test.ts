/**
 * Hostile inputs: one shared list of wrong-typed and out-of-range values fed
 * to every public entry point of `src/ipsec/mod.ts`. Each call must throw or reject with a typed
 * error (TypeError or an IpSecError subclass: docs/ipsec.md, "Errors") within a bounded time, leave the quota
 * usage unchanged, and never put key bytes in the message.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  IpSecAlgorithm,
  IpSecError,
  IpSecManager,
  IpSecTransform,
  type IpSecTransformBuilder,
  type SecurityParameterIndex,
  type UdpEncapsulationSocket,
} from '../../src/ipsec/mod.ts';

const LO = '127.0.0.1';
const KEY = Uint8Array.from({ length: 36 }, (_, i) => 0xa0 + i);
const KEY_HEX = Buffer.from(KEY).toString('hex');

/** The shared list (labels for the failure messages). */
const HOSTILE: ReadonlyArray<readonly [string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['NaN', Number.NaN],
  ['-1', -1],
  ['2**32', 2 ** 32],
  ['1.5', 1.5],
  ['Infinity', Number.POSITIVE_INFINITY],
  ["''", ''],
  ["'not-an-ip'", 'not-an-ip'],
  ["'0.0.0.0'", '0.0.0.0'],
  ["'::'", '::'],
  ['{}', {}],
  ['[]', []],
  ['Symbol()', Symbol('hostile')],
  ['10n', 10n],
  ['huge string', 'x'.repeat(1 << 20)],
  ['Uint8Array(0)', new Uint8Array(0)],
  ['Uint8Array(3)', new Uint8Array(3)],
  ['function', () => 1],
];

function isTyped(err: unknown): boolean {
  return err instanceof TypeError || err instanceof IpSecError;
}

/**
 * Runs `call`; it must fail with a typed error within 2 s and never mention the key. `valid`:
 * the value is legal for this entry point, so success is fine (what it created is closed).
 */
async function mustFail(label: string, call: () => unknown, valid = false): Promise<void> {
  let outcome: unknown;
  try {
    const r = call();
    outcome = await Promise.race([
      Promise.resolve(r).then(async (value) => {
        const closable = value as { close?: () => Promise<void> } | undefined;
        if (typeof closable?.close === 'function') await closable.close();
        return 'resolved';
      }),
      new Promise((resolve) => setTimeout(() => resolve('hang'), 2000).unref()),
    ]);
    if (valid && outcome === 'resolved') return;
  } catch (err: unknown) {
    assert.ok(isTyped(err), `${label}: untyped error ${String(err)}`);
    const message = (err as Error).message;
    assert.ok(
      !message.includes(KEY_HEX) && !message.includes(String(KEY)),
      `${label}: key in message`,
    );
    assert.ok(message.length < 1000, `${label}: message of ${message.length} characters`);
    return;
  }
  assert.fail(`${label}: ${String(outcome)} instead of failing`);
}

let ipsec: IpSecManager;
let other: IpSecManager;
let encap: UdpEncapsulationSocket;
let spi: SecurityParameterIndex;
let transform: IpSecTransform;
let closedSpi: SecurityParameterIndex;
let foreignSpi: SecurityParameterIndex;
const aead = new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, KEY, 128);

before(async () => {
  ipsec = await IpSecManager.create();
  other = await IpSecManager.create();
  encap = await ipsec.openUdpEncapsulationSocket();
  const s = await ipsec.allocateSecurityParameterIndex(LO);
  transform = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(aead)
    .setIpv4Encapsulation(encap, encap.getPort())
    .buildTransportModeTransform(LO, s);
  spi = await ipsec.allocateSecurityParameterIndex(LO);
  closedSpi = await ipsec.allocateSecurityParameterIndex(LO);
  await closedSpi.close();
  foreignSpi = await other.allocateSecurityParameterIndex(LO);
});

after(async () => {
  await ipsec.close();
  await other.close();
});

function builder(): IpSecTransformBuilder {
  return new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(aead)
    .setIpv4Encapsulation(encap, encap.getPort());
}

// biome-ignore lint/suspicious/noExplicitAny: hostile calls deliberately break the types
type Loose = any;

test('every public entry point refuses every hostile value with a typed error and no quota change', async () => {
  const usage = ipsec.getQuotaUsage();
  const socket = ipsec.createDatagramSocket('udp4');
  const entries: ReadonlyArray<readonly [string, (v: Loose) => unknown, (readonly string[])?]> = [
    [
      'IpSecManager.create({ backend })',
      (v) => IpSecManager.create({ backend: v }),
      ['undefined', 'null'],
    ],
    [
      'IpSecManager.create({ ownerId })',
      (v) => IpSecManager.create({ ownerId: v }),
      ['undefined', '-1', '2**32', "'not-an-ip'", "'0.0.0.0'", "'::'", 'huge string'],
    ],
    [
      'IpSecManager.create({ replayWindowSize })',
      (v) => IpSecManager.create({ replayWindowSize: v ?? -1 }),
    ],
    [
      'IpSecManager.create({ keepaliveIntervalMs })',
      (v) => IpSecManager.create({ keepaliveIntervalMs: v ?? -1 }),
      ['1.5'],
    ],
    ['IpSecManager.create({ esn })', (v) => IpSecManager.create({ esn: v ?? 'yes' })],
    [
      'IpSecManager.create({ randomUint32 })',
      (v) => IpSecManager.create({ randomUint32: typeof v === 'function' ? 1 : (v ?? 1) }),
    ],
    ['allocateSecurityParameterIndex(address)', (v) => ipsec.allocateSecurityParameterIndex(v)],
    [
      'allocateSecurityParameterIndex(LO, spi)',
      (v) => ipsec.allocateSecurityParameterIndex(LO, v ?? 0),
      ['-1'],
    ],
    ['openUdpEncapsulationSocket(port)', (v) => ipsec.openUdpEncapsulationSocket(v ?? 0)],
    [
      'openUdpEncapsulationSocket(undefined, { family })',
      (v) => ipsec.openUdpEncapsulationSocket(undefined, { family: v ?? 'IPv5' }),
    ],
    ['createDatagramSocket(type)', (v) => ipsec.createDatagramSocket(v)],
    [
      'applyTransportModeTransform(socket)',
      (v) => ipsec.applyTransportModeTransform(v, 1, transform),
    ],
    [
      'applyTransportModeTransform(direction)',
      (v) => ipsec.applyTransportModeTransform(socket, v, transform),
    ],
    [
      'applyTransportModeTransform(transform)',
      (v) => ipsec.applyTransportModeTransform(socket, 1, v),
    ],
    ['removeTransportModeTransforms(socket)', (v) => ipsec.removeTransportModeTransforms(v)],
    ['new IpSecAlgorithm(name)', (v) => new IpSecAlgorithm(v, KEY, 128)],
    [
      'new IpSecAlgorithm(key)',
      (v) => new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, v, 128),
    ],
    [
      'new IpSecAlgorithm(truncLenBits)',
      (v) => new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, KEY, v ?? 0),
    ],
    ['new IpSecTransform.Builder(manager)', (v) => new IpSecTransform.Builder(v)],
    ['Builder.setEncryption', (v) => builder().setEncryption(v)],
    ['Builder.setAuthentication', (v) => builder().setAuthentication(v)],
    ['Builder.setAuthenticatedEncryption', (v) => builder().setAuthenticatedEncryption(v)],
    ['Builder.setIpv4Encapsulation(socket)', (v) => builder().setIpv4Encapsulation(v, 4500)],
    [
      'Builder.setIpv4Encapsulation(remotePort) + build',
      (v) => builder().setIpv4Encapsulation(encap, v).buildTransportModeTransform(LO, spi),
    ],
    [
      'Builder.buildTransportModeTransform(source)',
      (v) => builder().buildTransportModeTransform(v, spi),
    ],
    [
      'Builder.buildTransportModeTransform(spi)',
      (v) => builder().buildTransportModeTransform(LO, v),
    ],
    [
      'UdpEncapsulationSocket.send(message)',
      (v) => encap.send(v instanceof Uint8Array ? 0 : v, 4500, LO),
    ],
    ['UdpEncapsulationSocket.send(port)', (v) => encap.send(new Uint8Array(8), v ?? 0, LO)],
    [
      'UdpEncapsulationSocket.send(address)',
      (v) =>
        encap.send(new Uint8Array(8), 4500, typeof v === 'string' && /^\d/.test(v) ? '::1' : v),
    ],
    ['IpSecDatagramSocket.bind(port)', (v) => socket.bind(v === undefined ? -1 : v, LO)],
    [
      'IpSecDatagramSocket.bind(address)',
      (v) =>
        socket.bind(0, v === undefined ? 'x' : typeof v === 'string' && /^\d/.test(v) ? '::1' : v),
    ],
    [
      'IpSecDatagramSocket.send(message)',
      (v) => socket.send(v instanceof Uint8Array || typeof v === 'string' ? 1 : v, 9, LO),
    ],
    ['IpSecDatagramSocket.send(port)', (v) => socket.send('x', v ?? 0, LO)],
    [
      'IpSecDatagramSocket.send(address)',
      (v) => socket.send('x', 9, typeof v === 'string' && /^\d/.test(v) ? '::1' : v),
    ],
  ];
  for (const [entry, call, valid = []] of entries) {
    for (const [label, value] of HOSTILE) {
      await mustFail(`${entry} with ${label}`, () => call(value), valid.includes(label));
    }
  }
  assert.deepEqual(ipsec.getQuotaUsage(), usage);
  await socket.close();
});

test('closed and foreign objects are refused with typed errors and no quota change', async () => {
  const usage = ipsec.getQuotaUsage();
  const closedEncap = await ipsec.openUdpEncapsulationSocket();
  await closedEncap.close();
  const closedSocket = ipsec.createDatagramSocket('udp4');
  await closedSocket.close();
  const foreignSocket = other.createDatagramSocket('udp4');
  const cases: ReadonlyArray<readonly [string, () => unknown]> = [
    ['build with a closed SPI', () => builder().buildTransportModeTransform(LO, closedSpi)],
    ["build with another owner's SPI", () => builder().buildTransportModeTransform(LO, foreignSpi)],
    [
      'setIpv4Encapsulation with a closed socket',
      () => builder().setIpv4Encapsulation(closedEncap, 4500),
    ],
    ['send on a closed encap socket', () => closedEncap.send(new Uint8Array(8), 4500, LO)],
    [
      'apply to a closed socket',
      () => ipsec.applyTransportModeTransform(closedSocket, 1, transform),
    ],
    ['bind a closed socket', () => closedSocket.bind(0, LO)],
    ['send on a closed socket', () => closedSocket.send('x', 9, LO)],
    [
      "apply this manager's transform from another manager",
      () => other.applyTransportModeTransform(foreignSocket, 1, transform),
    ],
    [
      'builder of a closed manager',
      async () => {
        const m = await IpSecManager.create();
        const b = new IpSecTransform.Builder(m);
        await m.close();
        return b.setAuthenticatedEncryption(aead).buildTransportModeTransform(LO, spi);
      },
    ],
  ];
  for (const [label, call] of cases) await mustFail(label, call);
  await foreignSocket.close();
  assert.deepEqual(ipsec.getQuotaUsage(), usage);
});

test('IpSecAlgorithm never exposes its key: String, JSON, util.inspect, structuredClone, keys', async () => {
  const { inspect } = await import('node:util');
  const texts = [
    String(aead),
    JSON.stringify(aead),
    inspect(aead, { showHidden: true, depth: 10 }),
    JSON.stringify(structuredClone(aead)),
    JSON.stringify(Object.entries(aead)),
    inspect(transform, { showHidden: true, depth: 10 }),
    JSON.stringify(transform.describe()),
  ];
  for (const t of texts) {
    assert.ok(!t.includes(KEY_HEX) && !t.includes('160, 161, 162'), t);
  }
});
