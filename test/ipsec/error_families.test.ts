/**
 * One error family per kind of mistake, row by row as in the table "Errors" of docs/ipsec.md: a
 * value of the wrong JavaScript type is a `TypeError`, a value of the right type that Android
 * refuses is an `IllegalArgumentError` — for ports (send, bind, encapsulation, remote), SPIs,
 * directions and options alike, never a `RangeError` — and each state, ownership, resource and
 * I/O condition has its class and stable `code`. Real sockets on loopback.
 *
 * @requires root (setpriv without capabilities for the kernel backend's no-permission row)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  DestinationMismatchError,
  IllegalArgumentError,
  IllegalStateError,
  IpSecAlgorithm,
  IpSecError,
  IpSecManager,
  IpSecTransform,
  MessageTooLongError,
  ResourceUnavailableError,
  SecurityError,
  SpiUnavailableError,
  TransformClosedError,
  UnsupportedOperationError,
} from '../../src/ipsec/mod.ts';
import { LO } from './_fixtures.ts';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '../..');
const MOD = join(REPO, 'src/ipsec/mod.ts');

type ErrorClass = abstract new (...args: never[]) => Error;

/** `call` must fail with exactly `expected` (and `code`, if given), never a RangeError. */
async function expectFamily(
  label: string,
  call: () => unknown,
  expected: ErrorClass,
  code?: string,
): Promise<void> {
  let failure: unknown;
  try {
    await call();
  } catch (err: unknown) {
    failure = err;
  }
  assert.ok(failure !== undefined, `${label}: did not fail`);
  assert.ok(!(failure instanceof RangeError), `${label}: RangeError ${String(failure)}`);
  assert.ok(failure instanceof expected, `${label}: ${String(failure)} is not a ${expected.name}`);
  if (code !== undefined) assert.equal((failure as { code?: unknown }).code, code, label);
  if (expected === TypeError) assert.ok(!(failure instanceof IpSecError), label);
}

const gcm = () => new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128);

test('TypeError: a value of the wrong JavaScript type, at every kind of entry point', async () => {
  await using ipsec = await IpSecManager.create();
  await using encap = await ipsec.openUdpEncapsulationSocket();
  await using socket = ipsec.createDatagramSocket('udp4');
  const rows: [string, () => unknown][] = [
    ['send port 1.5', () => socket.send('x', 1.5, LO)],
    ["send port '9'", () => socket.send('x', '9' as never, LO)],
    ['bind port NaN', () => socket.bind(Number.NaN, LO)],
    ['encap send port 1.5', () => encap.send(Uint8Array.of(0), 1.5, LO)],
    ['encapsulation socket port 4500.5', () => ipsec.openUdpEncapsulationSocket(4500.5)],
    [
      'remote encapsulation port 1.5',
      () => new IpSecTransform.Builder(ipsec).setIpv4Encapsulation(encap, 1.5),
    ],
    ['requested SPI 0x1000.5', () => ipsec.allocateSecurityParameterIndex(LO, 0x1000 + 0.5)],
    ['requested SPI 10n', () => ipsec.allocateSecurityParameterIndex(LO, 10n as never)],
    ['address 127', () => ipsec.allocateSecurityParameterIndex(127 as never)],
    ['Builder({})', () => new IpSecTransform.Builder({} as never)],
    ['setEncryption(null)', () => new IpSecTransform.Builder(ipsec).setEncryption(null as never)],
    ['key as a string', () => new IpSecAlgorithm(IpSecAlgorithm.CRYPT_AES_CBC, 'k' as never)],
    [
      "direction 'in'",
      () => ipsec.applyTransportModeTransform(socket, 'in' as never, null as never),
    ],
    ['replayWindowSize 64.5', () => IpSecManager.create({ replayWindowSize: 64.5 })],
    ['keepaliveIntervalMs NaN', () => IpSecManager.create({ keepaliveIntervalMs: Number.NaN })],
    ['receiveQueueLength 1.5', () => IpSecManager.create({ receiveQueueLength: 1.5 })],
    ["esn 'yes'", () => IpSecManager.create({ esn: 'yes' as never })],
    [
      'setReplayWindowSize(64.5)',
      () => new IpSecTransform.Builder(ipsec).setReplayWindowSize(64.5),
    ],
    ["setEsn('yes')", () => new IpSecTransform.Builder(ipsec).setEsn('yes' as never)],
    ['messages({ signal: {} })', () => socket.messages({ signal: {} as AbortSignal })],
  ];
  for (const [label, call] of rows) await expectFamily(label, call, TypeError);
});

test('IllegalArgumentError (ERR_IPSEC_ILLEGAL_ARGUMENT): a value of the right type that is refused', async () => {
  await using ipsec = await IpSecManager.create();
  await using encap = await ipsec.openUdpEncapsulationSocket();
  await using socket = ipsec.createDatagramSocket('udp4');
  await using spi = await ipsec.allocateSecurityParameterIndex(LO);
  const code = 'ERR_IPSEC_ILLEGAL_ARGUMENT';
  const rows: [string, () => unknown][] = [
    ['send port 0', () => socket.send('x', 0, LO)],
    ['send port 65536', () => socket.send('x', 65536, LO)],
    ['bind port -1', () => socket.bind(-1, LO)],
    ['bind port 65536', () => socket.bind(65536, LO)],
    ['encap send port 70000', () => encap.send(Uint8Array.of(0), 70000, LO)],
    ['encapsulation socket port 0', () => ipsec.openUdpEncapsulationSocket(0)],
    ['encapsulation socket port 80', () => ipsec.openUdpEncapsulationSocket(80)],
    [
      'remote encapsulation port 65536',
      () =>
        new IpSecTransform.Builder(ipsec)
          .setAuthenticatedEncryption(gcm())
          .setIpv4Encapsulation(encap, 65536)
          .buildTransportModeTransform(LO, spi),
    ],
    ['requested SPI 0', () => ipsec.allocateSecurityParameterIndex(LO, 0)],
    ['requested SPI 255', () => ipsec.allocateSecurityParameterIndex(LO, 255)],
    ['requested SPI 2^33', () => ipsec.allocateSecurityParameterIndex(LO, 2 ** 33)],
    ['host name', () => ipsec.allocateSecurityParameterIndex('localhost')],
    ['wildcard address', () => ipsec.allocateSecurityParameterIndex('0.0.0.0')],
    ['send to an IPv6 address from udp4', () => socket.send('x', 9, '::1')],
    ['unknown algorithm', () => new IpSecAlgorithm('rot13', new Uint8Array(16))],
    ['bad key length', () => new IpSecAlgorithm(IpSecAlgorithm.CRYPT_AES_CBC, new Uint8Array(3))],
    [
      'no algorithm',
      () =>
        new IpSecTransform.Builder(ipsec)
          .setIpv4Encapsulation(encap, 4500)
          .buildTransportModeTransform(LO, spi),
    ],
    [
      'direction 5',
      async () => {
        await using s = await ipsec.allocateSecurityParameterIndex(LO);
        await using t = await new IpSecTransform.Builder(ipsec)
          .setAuthenticatedEncryption(gcm())
          .setIpv4Encapsulation(encap, 4500)
          .buildTransportModeTransform(LO, s);
        await ipsec.applyTransportModeTransform(socket, 5 as never, t);
      },
    ],
    ['replayWindowSize 16', () => IpSecManager.create({ replayWindowSize: 16 })],
    ['keepaliveIntervalMs -1', () => IpSecManager.create({ keepaliveIntervalMs: -1 })],
    ['receiveQueueLength 0', () => IpSecManager.create({ receiveQueueLength: 0 })],
    [
      'setReplayWindowSize(70000)',
      () => new IpSecTransform.Builder(ipsec).setReplayWindowSize(70000),
    ],
  ];
  for (const [label, call] of rows) await expectFamily(label, call, IllegalArgumentError, code);
});

test('state, ownership, resources and I/O: one class and code per condition', async () => {
  await using ipsec = await IpSecManager.create();
  await using other = await IpSecManager.create();
  await using encap = await ipsec.openUdpEncapsulationSocket();
  const spi = await ipsec.allocateSecurityParameterIndex(LO);
  const transform = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(gcm())
    .setIpv4Encapsulation(encap, encap.getPort())
    .buildTransportModeTransform(LO, spi);
  await using socket = ipsec.createDatagramSocket('udp4');
  await socket.bind(0, LO);
  await expectFamily(
    'SPI used twice',
    () =>
      new IpSecTransform.Builder(ipsec)
        .setAuthenticatedEncryption(gcm())
        .setIpv4Encapsulation(encap, encap.getPort())
        .buildTransportModeTransform(LO, spi),
    IllegalStateError,
    'ERR_IPSEC_ILLEGAL_STATE',
  );
  await expectFamily(
    'DIRECTION_FWD',
    () => ipsec.applyTransportModeTransform(socket, 2 as never, transform),
    SecurityError,
    'ERR_IPSEC_NOT_OWNER',
  );
  await expectFamily(
    'SPI taken',
    async () => {
      const held = await ipsec.allocateSecurityParameterIndex(LO, 0x4242);
      try {
        await ipsec.allocateSecurityParameterIndex(LO, 0x4242);
      } finally {
        await held.close();
      }
    },
    SpiUnavailableError,
    'ERR_IPSEC_SPI_UNAVAILABLE',
  );
  await expectFamily(
    'busy port',
    () => other.openUdpEncapsulationSocket(encap.getPort()),
    ResourceUnavailableError,
    'ERR_IPSEC_RESOURCE_UNAVAILABLE',
  );
  await expectFamily(
    'no UDP encapsulation on the userspace backend',
    async () => {
      await using s = await ipsec.allocateSecurityParameterIndex(LO);
      await new IpSecTransform.Builder(ipsec)
        .setAuthenticatedEncryption(gcm())
        .buildTransportModeTransform(LO, s);
    },
    UnsupportedOperationError,
    'ERR_IPSEC_UNSUPPORTED_OPERATION',
  );
  await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, transform);
  await expectFamily(
    'other destination',
    () => socket.send('x', 9, '127.0.0.2'),
    DestinationMismatchError,
    'ERR_IPSEC_DESTINATION_MISMATCH',
  );
  await expectFamily(
    'too long',
    () => socket.send(new Uint8Array(65_500), 9, LO),
    MessageTooLongError,
    'ERR_IPSEC_MESSAGE_TOO_LONG',
  );
  await transform.close();
  await expectFamily(
    'transform closed',
    () => socket.send('x', 9, LO),
    TransformClosedError,
    'ERR_IPSEC_TRANSFORM_CLOSED',
  );
  await expectFamily(
    'closed transform state',
    () => transform.requestIpSecTransformState(),
    IllegalStateError,
    'ERR_IPSEC_ILLEGAL_STATE',
  );
  await spi.close();
  await ipsec.close();
  await expectFamily(
    'closed manager',
    () => ipsec.allocateSecurityParameterIndex(LO),
    IllegalStateError,
    'ERR_IPSEC_ILLEGAL_STATE',
  );
});

test('KernelBackendUnavailableError (ERR_IPSEC_KERNEL_BACKEND_UNAVAILABLE) without CAP_NET_ADMIN', async () => {
  // Without capabilities (still uid 0, so a checkout in a 0700 directory stays readable):
  // refused whatever the kernel, with or without ESP.
  const code = `
    const { IpSecManager } = await import(${JSON.stringify(MOD)});
    try { await IpSecManager.create({ backend: 'kernel' }); console.log('{}'); }
    catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, isError: e instanceof Error })); }`;
  const { stdout } = await run(
    'setpriv',
    [
      ...['--inh-caps=-all', '--bounding-set=-all'],
      ...[process.execPath, '--import', 'tsx', '--input-type=module', '-e', code],
    ],
    { cwd: REPO, timeout: 30_000 },
  );
  assert.deepEqual(JSON.parse(stdout), {
    name: 'KernelBackendUnavailableError',
    code: 'ERR_IPSEC_KERNEL_BACKEND_UNAVAILABLE',
    isError: true,
  });
});

test('the quota of 64 SPIs is ResourceUnavailableError', async () => {
  await using ipsec = await IpSecManager.create();
  const spis = [];
  for (let i = 0; i < 64; i++) spis.push(await ipsec.allocateSecurityParameterIndex(LO));
  await expectFamily(
    '65th SPI',
    () => ipsec.allocateSecurityParameterIndex(LO),
    ResourceUnavailableError,
    'ERR_IPSEC_RESOURCE_UNAVAILABLE',
  );
});
