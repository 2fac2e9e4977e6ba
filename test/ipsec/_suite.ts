/**
 * The behavioural suite of Android's IpSecManager rules (transport mode, after Android's CTS),
 * written against the PUBLIC API only so that every backend runs it unchanged:
 *
 * ```ts
 * runBehaviourSuite('userspace', async () => {
 *   const backend = new UserspaceBackend();
 *   return { createManager: (o) => IpSecManager.create({ ...o, backend }), close: () => backend.close() };
 * });
 * ```
 *
 * A "device" is one backend instance (Android: one phone); managers created on it with different
 * `ownerId`s are different apps (UIDs) sharing its SPI table and resource ids.
 * Fixtures follow CTS (`IpSecBaseTest`, `PacketUtils`): TEST_DATA "Best test data ever!", keys are
 * prefixes of bytes 0x00..0x23, DROID_SPI 0xD1201D, loopback 127.0.0.1 and ::1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import type { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  DestinationMismatchError,
  IllegalArgumentError,
  IllegalStateError,
  IpSecAlgorithm,
  type IpSecDatagramSocket,
  IpSecManager,
  type IpSecManagerOptions,
  IpSecTransform,
  type IpSecTransformBuilder,
  ResourceUnavailableError,
  SecurityError,
  SpiUnavailableError,
  seededRandomUint32,
  TransformClosedError,
  type UdpEncapsulationSocket,
} from '../../src/ipsec/mod.ts';

/** One simulated device: managers created here share one backend. */
export interface SuiteDevice {
  createManager(options?: Omit<IpSecManagerOptions, 'backend'>): Promise<IpSecManager>;
  close(): Promise<void>;
  /**
   * Scope of SPI uniqueness. Android and the userspace backend: per destination — the default.
   * Linux 6.17+ (and stable kernels with the backport, e.g. Debian 6.1.192) refuse an SPI reserved
   * for another destination (ALLOCSPI → ENOENT), so a kernel backend there declares `'global'`
   * (measured, not guessed); only the "different destinations" expectation changes.
   */
  readonly spiScope?: 'per-destination' | 'global';
  /**
   * Whether the kernel-side quota is shared by every owner of the device: true for the IPsec
   * service, whose daemon counts per UID (the suite's owners are one process, one UID); the
   * per-UID split is proven with two real UIDs by the service's own guest test.
   */
  readonly ownersShareKernelQuota?: boolean;
  /**
   * How long a datagram may take to arrive (default 500 ms). The IPsec service adds a round trip
   * to the daemon to a first send (the policy goes on at bind) — under an emulated CPU that
   * can exceed the default.
   */
  readonly messageTimeoutMs?: number;
}

/** Default of {@link nextMessage}'s timeout; set per device by {@link runBehaviourSuite}. */
let defaultMessageTimeoutMs = 500;

export const TEST_DATA = new TextEncoder().encode('Best test data ever!');
export const DROID_SPI = 0xd1201d;
const KEY_DATA = Uint8Array.from({ length: 64 }, (_, i) => i);
/** First `bits / 8` bytes of 0x00..0x3f (CTS `getKey`). */
export function getKey(bits: number): Uint8Array {
  return KEY_DATA.slice(0, bits / 8);
}

type Family = 'IPv4' | 'IPv6';
const LOOPBACK: Record<Family, string> = { IPv4: '127.0.0.1', IPv6: '::1' };
const SOCKET_TYPE: Record<Family, 'udp4' | 'udp6'> = { IPv4: 'udp4', IPv6: 'udp6' };

/** An algorithm combination of the CTS matrix, with its ESP geometry (`PacketUtils`). */
export interface AlgorithmCase {
  readonly name: string;
  readonly configure: (builder: IpSecTransformBuilder) => IpSecTransformBuilder;
  readonly ivLength: number;
  readonly blockSize: number;
  readonly icvLength: number;
}

const cbc = () => new IpSecAlgorithm(IpSecAlgorithm.CRYPT_AES_CBC, getKey(256));

/** CBC-AES-256 alone (CTS testCrypt). */
const cbcOnly = (b: IpSecTransformBuilder): IpSecTransformBuilder => b.setEncryption(cbc());

/** CBC-AES-256 with the authentication `auth` keyed by the first `keyBits` bits of KEY_DATA. */
const cbcWith =
  (auth: string, keyBits: number, truncBits: number) =>
  (b: IpSecTransformBuilder): IpSecTransformBuilder =>
    b.setEncryption(cbc()).setAuthentication(new IpSecAlgorithm(auth, getKey(keyBits), truncBits));

export const ALGORITHM_CASES: readonly AlgorithmCase[] = [
  ...(
    [
      ['hmac(md5)', 128, 96],
      ['hmac(sha1)', 160, 96],
      ['hmac(sha256)', 256, 128],
      ['hmac(sha384)', 384, 192],
      ['hmac(sha512)', 512, 256],
      ['xcbc(aes)', 128, 96],
      ['cmac(aes)', 128, 96],
    ] as const
  ).map(([auth, keyBits, trunc]) => ({
    name: `cbc(aes)-256 + ${auth}-${trunc}`,
    configure: (b: IpSecTransformBuilder) =>
      b.setEncryption(cbc()).setAuthentication(new IpSecAlgorithm(auth, getKey(keyBits), trunc)),
    ivLength: 16,
    blockSize: 16,
    icvLength: trunc / 8,
  })),
  ...([160, 224, 288] as const).map((keyBits) => ({
    name: `rfc3686(ctr(aes))-${keyBits} + hmac(sha512)-256`,
    configure: (b: IpSecTransformBuilder) =>
      b
        .setEncryption(new IpSecAlgorithm(IpSecAlgorithm.CRYPT_AES_CTR, getKey(keyBits)))
        .setAuthentication(new IpSecAlgorithm(IpSecAlgorithm.AUTH_HMAC_SHA512, getKey(512), 256)),
    ivLength: 8,
    blockSize: 4,
    icvLength: 32,
  })),
  ...([64, 96, 128] as const).flatMap((icv) =>
    ([160, 224, 288] as const).map((keyBits) => ({
      name: `rfc4106(gcm(aes))-${keyBits}/${icv}`,
      configure: (b: IpSecTransformBuilder) =>
        b.setAuthenticatedEncryption(
          new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, getKey(keyBits), icv),
        ),
      ivLength: 8,
      blockSize: 4,
      icvLength: icv / 8,
    })),
  ),
  {
    name: 'rfc7539esp(chacha20,poly1305)-288/128',
    configure: (b) =>
      b.setAuthenticatedEncryption(
        new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_CHACHA20_POLY1305, getKey(288), 128),
      ),
    ivLength: 8,
    blockSize: 4,
    icvLength: 16,
  },
  {
    name: 'cbc(aes)-256 only (testCrypt)',
    configure: cbcOnly,
    ivLength: 16,
    blockSize: 16,
    icvLength: 0,
  },
  {
    name: 'hmac(sha256)-128 only (testAuth)',
    configure: (b) =>
      b.setAuthentication(new IpSecAlgorithm(IpSecAlgorithm.AUTH_HMAC_SHA256, getKey(256), 128)),
    ivLength: 0,
    blockSize: 4,
    icvLength: 16,
  },
];

/** CTS `PacketUtils` ESP length: roundUp(len + 2, blk) + iv + 8 + icv. */
export function espLength(payloadLength: number, c: AlgorithmCase): number {
  return Math.ceil((payloadLength + 2) / c.blockSize) * c.blockSize + c.ivLength + 8 + c.icvLength;
}

/** Resolves with the next datagram, or `undefined` after `timeoutMs`. */
export function nextMessage(
  socket: IpSecDatagramSocket | UdpEncapsulationSocket | Socket,
  timeoutMs = defaultMessageTimeoutMs,
): Promise<{ message: Buffer; port: number; address: string } | undefined> {
  // Each socket type has its own typed 'message' event; the plain emitter view serves all three.
  const emitter: EventEmitter = socket;
  return new Promise((resolve) => {
    const onMessage = (message: Buffer, rinfo: { port: number; address: string }): void => {
      clearTimeout(timer);
      resolve({ message, port: rinfo.port, address: rinfo.address });
    };
    const timer = setTimeout(() => {
      emitter.off('message', onMessage);
      resolve(undefined);
    }, timeoutMs);
    emitter.once('message', onMessage);
  });
}

async function plainSocket(family: Family): Promise<Socket> {
  const s = createSocket(SOCKET_TYPE[family]);
  await new Promise<void>((resolve) => s.bind(0, LOOPBACK[family], resolve));
  return s;
}

function closePlain(s: Socket): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

/** Builds a loopback transform (src = dst = loopback), SPI closed right after (CTS pattern). */
async function loopbackTransform(
  ipsec: IpSecManager,
  family: Family,
  configure: (b: IpSecTransformBuilder) => IpSecTransformBuilder,
  encap: UdpEncapsulationSocket,
  remotePort = encap.getPort(),
): Promise<IpSecTransform> {
  await using spi = await ipsec.allocateSecurityParameterIndex(LOOPBACK[family]);
  return await configure(new IpSecTransform.Builder(ipsec))
    .setIpv4Encapsulation(encap, remotePort)
    .buildTransportModeTransform(LOOPBACK[family], spi);
}

/** A CBC-only builder encapsulated on `encap` towards port 4500. */
function cbcBuilder(ipsec: IpSecManager, encap: UdpEncapsulationSocket): IpSecTransformBuilder {
  return new IpSecTransform.Builder(ipsec).setEncryption(cbc()).setIpv4Encapsulation(encap, 4500);
}

/** Applies `transform` to `socket` in both directions. */
async function applyBoth(
  ipsec: IpSecManager,
  socket: IpSecDatagramSocket,
  transform: IpSecTransform,
): Promise<void> {
  await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, transform);
  await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_IN, transform);
}

/** Registers the suite under `describe(name)`. */
export function runBehaviourSuite(name: string, createDevice: () => Promise<SuiteDevice>): void {
  describe(`IpSecManager behaviour (${name})`, () => {
    let device: SuiteDevice;
    before(async () => {
      device = await createDevice();
      defaultMessageTimeoutMs = device.messageTimeoutMs ?? 500;
    });
    after(async () => {
      await device.close();
    });

    describe('algorithms round trip on loopback (CTS checkTransform, UDP)', () => {
      for (const family of ['IPv4', 'IPv6'] as const) {
        for (const c of ALGORITHM_CASES) {
          test(`${c.name} over ${family} carries TEST_DATA both ways`, async () => {
            await using ipsec = await device.createManager();
            await using encap = await ipsec.openUdpEncapsulationSocket(undefined, { family });
            await using transform = await loopbackTransform(ipsec, family, c.configure, encap);
            await using a = ipsec.createDatagramSocket(SOCKET_TYPE[family]);
            await using b = ipsec.createDatagramSocket(SOCKET_TYPE[family]);
            const pa = (await a.bind(0, LOOPBACK[family])).port;
            const pb = (await b.bind(0, LOOPBACK[family])).port;
            for (const s of [a, b]) {
              await applyBoth(ipsec, s, transform);
            }
            const atB = nextMessage(b);
            await a.send(TEST_DATA, pb, LOOPBACK[family]);
            const gotB = await atB;
            assert.deepEqual(gotB?.message, Buffer.from(TEST_DATA));
            assert.equal(gotB?.port, pa);
            const atA = nextMessage(a);
            await b.send(TEST_DATA, pa, LOOPBACK[family]);
            assert.deepEqual((await atA)?.message, Buffer.from(TEST_DATA));
            const state = await transform.requestIpSecTransformState();
            assert.equal(state.txHighestSequenceNumber, 2n);
            assert.equal(state.rxHighestSequenceNumber, 2n);
            assert.equal(state.packetCount, 4n);
            assert.equal(state.byteCount, BigInt(4 * (8 + TEST_DATA.length)));
          });
        }
      }
      for (const c of ALGORITHM_CASES) {
        test(`${c.name}: the wire carries ESP-in-UDP of Android's size, never TEST_DATA`, async () => {
          await using ipsec = await device.createManager();
          await using encap = await ipsec.openUdpEncapsulationSocket();
          const observer = await plainSocket('IPv4');
          try {
            const observerPort = (observer.address() as { port: number }).port;
            await using transform = await loopbackTransform(
              ipsec,
              'IPv4',
              c.configure,
              encap,
              observerPort,
            );
            await using s = ipsec.createDatagramSocket('udp4');
            await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_OUT, transform);
            const seen = nextMessage(observer);
            await s.send(TEST_DATA, 4242, '127.0.0.1');
            const wire = await seen;
            assert.ok(wire !== undefined, 'the observer received nothing');
            assert.equal(wire.port, encap.getPort(), 'ESP must come from the encap socket');
            assert.equal(wire.message.length, espLength(8 + TEST_DATA.length, c));
            assert.equal(wire.message.readUInt32BE(0), transform.describe().spi);
            assert.equal(wire.message.readUInt32BE(4), 1);
            if (c.ivLength > 0 || c.name.includes('cbc')) {
              assert.equal(wire.message.indexOf(Buffer.from(TEST_DATA)), -1);
            }
          } finally {
            await closePlain(observer);
          }
        });
      }
    });

    describe('SPI allocation (CTS testAllocSpi)', () => {
      for (const dst of ['8.8.8.8', '2001:4860:4860::8888']) {
        test(`random and requested SPIs for ${dst}; a taken SPI is unavailable`, async () => {
          await using ipsec = await device.createManager();
          await using random = await ipsec.allocateSecurityParameterIndex(dst);
          assert.ok(random.getSpi() >= 256 && random.getSpi() <= 0xfffffffe);
          await using droid = await ipsec.allocateSecurityParameterIndex(dst, DROID_SPI);
          assert.equal(droid.getSpi(), DROID_SPI);
          await assert.rejects(ipsec.allocateSecurityParameterIndex(dst, DROID_SPI), (err) => {
            assert.ok(err instanceof SpiUnavailableError);
            assert.equal(err.requestedSpi, DROID_SPI);
            assert.equal(err.code, 'ERR_IPSEC_SPI_UNAVAILABLE');
            return true;
          });
        });
      }
      test('the same SPI can be reserved for different destinations', async () => {
        await using ipsec = await device.createManager();
        await using a = await ipsec.allocateSecurityParameterIndex('192.0.2.1', DROID_SPI);
        if (device.spiScope === 'global') {
          // Kernel backend on Linux with global SPIs: the SPI is taken for every destination.
          await assert.rejects(
            ipsec.allocateSecurityParameterIndex('192.0.2.2', DROID_SPI),
            SpiUnavailableError,
          );
          return;
        }
        await using b = await ipsec.allocateSecurityParameterIndex('192.0.2.2', DROID_SPI);
        assert.equal(a.getSpi(), b.getSpi());
      });
      test('uniqueness per destination spans owners; release frees the SPI', async () => {
        await using app1 = await device.createManager({ ownerId: 10001 });
        await using app2 = await device.createManager({ ownerId: 10002 });
        const held = await app1.allocateSecurityParameterIndex('192.0.2.9', 0x1000);
        await assert.rejects(
          app2.allocateSecurityParameterIndex('192.0.2.9', 0x1000),
          SpiUnavailableError,
        );
        await held.close();
        await using again = await app2.allocateSecurityParameterIndex('192.0.2.9', 0x1000);
        assert.equal(again.getSpi(), 0x1000);
      });
      test('random SPIs sweep from a random start: the same seed yields the next free SPI', async () => {
        await using m1 = await device.createManager({ randomUint32: seededRandomUint32(7) });
        await using m2 = await device.createManager({ randomUint32: seededRandomUint32(7) });
        await using s1 = await m1.allocateSecurityParameterIndex('192.0.2.77');
        await using s2 = await m2.allocateSecurityParameterIndex('192.0.2.77');
        assert.equal(s2.getSpi(), s1.getSpi() === 0xfffffffe ? 256 : s1.getSpi() + 1);
      });
      test('requested SPIs 0 and 1–255 are refused; 0xFFFFFFFF is accepted', async () => {
        await using ipsec = await device.createManager();
        await assert.rejects(ipsec.allocateSecurityParameterIndex('192.0.2.1', 0), {
          name: 'IllegalArgumentError',
          message: 'Requested SPI must be a valid (non-zero) SPI',
        });
        for (const spi of [1, 255]) {
          await assert.rejects(ipsec.allocateSecurityParameterIndex('192.0.2.1', spi), {
            name: 'IllegalArgumentError',
            message: 'ESP SPI must not be in the range of 0-255.',
          });
        }
        await using top = await ipsec.allocateSecurityParameterIndex('192.0.2.1', 0xffffffff);
        assert.equal(top.getSpi(), 0xffffffff);
      });
      test('invalid and wildcard destinations are refused (testValidateIpAddresses)', async () => {
        await using ipsec = await device.createManager();
        for (const bad of ['www.google.com', '::', '2001::/64', '0.0.0.0', '']) {
          await assert.rejects(
            ipsec.allocateSecurityParameterIndex(bad),
            IllegalArgumentError,
            `address ${JSON.stringify(bad)}`,
          );
        }
      });
      test('resource ids are never reused and failed calls consume one', async () => {
        await using ipsec = await device.createManager();
        const a = await ipsec.allocateSecurityParameterIndex('192.0.2.30', 0x3000);
        await assert.rejects(ipsec.allocateSecurityParameterIndex('192.0.2.30', 0x3000));
        await a.close();
        const b = await ipsec.allocateSecurityParameterIndex('192.0.2.30', 0x3000);
        assert.ok(b.getResourceId() >= a.getResourceId() + 2);
        assert.equal(a.getResourceId(), -1);
        await b.close();
      });
    });

    describe('quotas', () => {
      test('64 SPIs per owner; other owners unaffected; closing one frees one', async () => {
        await using app = await device.createManager({ ownerId: 'quota-spi' });
        await using other = await device.createManager({ ownerId: 'quota-spi-other' });
        const spis = [];
        for (let i = 0; i < 64; i++)
          spis.push(await app.allocateSecurityParameterIndex('192.0.2.64'));
        await assert.rejects(app.allocateSecurityParameterIndex('192.0.2.64'), {
          name: 'ResourceUnavailableError',
          message: 'No more SPIs may be allocated by this requester.',
        });
        if (device.ownersShareKernelQuota === true) {
          await assert.rejects(other.allocateSecurityParameterIndex('192.0.2.64'), {
            name: 'ResourceUnavailableError',
          });
          await spis[0]?.close();
          await using next = await app.allocateSecurityParameterIndex('192.0.2.64');
          assert.ok(next.getSpi() > 0);
          return;
        }
        await using fine = await other.allocateSecurityParameterIndex('192.0.2.64');
        await spis[0]?.close();
        await using next = await app.allocateSecurityParameterIndex('192.0.2.64');
        assert.ok(next.getSpi() > 0 && fine.getSpi() > 0);
      });
      test('16 encapsulation sockets per owner; closing one frees one', async () => {
        await using app = await device.createManager({ ownerId: 'quota-encap' });
        const sockets = [];
        for (let i = 0; i < 16; i++) sockets.push(await app.openUdpEncapsulationSocket());
        await assert.rejects(app.openUdpEncapsulationSocket(), {
          name: 'ResourceUnavailableError',
          message: 'No more Sockets may be allocated by this requester.',
        });
        await sockets[3]?.close();
        await using again = await app.openUdpEncapsulationSocket();
        assert.ok(again.getPort() > 0);
      });
      test('64 transforms fit; quota comes back only at final release (testReleaseOwnedSpi, testDeleteTransform)', async () => {
        await using app = await device.createManager({ ownerId: 'quota-transform' });
        await using encap = await app.openUdpEncapsulationSocket();
        const builder = new IpSecTransform.Builder(app)
          .setAuthenticatedEncryption(
            new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, getKey(160), 128),
          )
          .setIpv4Encapsulation(encap, 4500);
        const transforms = [];
        for (let i = 0; i < 64; i++) {
          const spi = await app.allocateSecurityParameterIndex('192.0.2.65');
          transforms.push(await builder.buildTransportModeTransform('127.0.0.1', spi));
          await spi.close();
        }
        assert.deepEqual(app.getQuotaUsage(), { spis: 64, transforms: 64, encapSockets: 1 });
        await assert.rejects(
          app.allocateSecurityParameterIndex('192.0.2.65'),
          ResourceUnavailableError,
        );
        await encap.close();
        assert.equal(app.getQuotaUsage().encapSockets, 1, 'transforms keep the encap socket');
        for (const t of transforms) await t.close();
        assert.deepEqual(app.getQuotaUsage(), { spis: 0, transforms: 0, encapSockets: 0 });
      });
      test('an SPI owned by a transform keeps its quota until both are closed', async () => {
        await using app = await device.createManager({ ownerId: 'quota-owned' });
        await using encap = await app.openUdpEncapsulationSocket();
        const spi = await app.allocateSecurityParameterIndex('192.0.2.66');
        const t = await cbcBuilder(app, encap).buildTransportModeTransform('127.0.0.1', spi);
        await t.close();
        assert.deepEqual(app.getQuotaUsage(), { spis: 1, transforms: 0, encapSockets: 1 });
        await spi.close();
        assert.deepEqual(app.getQuotaUsage(), { spis: 0, transforms: 0, encapSockets: 1 });
      });
    });

    describe('encapsulation socket ports', () => {
      test('port 0 explicit, 100 and 200000 are refused', async () => {
        await using ipsec = await device.createManager();
        await assert.rejects(ipsec.openUdpEncapsulationSocket(0), {
          message: 'Specified port must be a valid port number!',
        });
        for (const port of [100, 200000]) {
          await assert.rejects(ipsec.openUdpEncapsulationSocket(port), {
            name: 'IllegalArgumentError',
            message: 'Specified port number must be a valid non-reserved UDP port',
          });
        }
      });
      test('a specific free port is used; the same port twice is resource unavailable', async () => {
        await using ipsec = await device.createManager();
        const probe = await plainSocket('IPv4');
        const port = (probe.address() as { port: number }).port;
        await closePlain(probe);
        await using encap = await ipsec.openUdpEncapsulationSocket(port);
        assert.equal(encap.getPort(), port);
        await assert.rejects(ipsec.openUdpEncapsulationSocket(port), ResourceUnavailableError);
      });
      test('a port is held while a transform uses the socket and freed at final release', async () => {
        await using ipsec = await device.createManager();
        const encap = await ipsec.openUdpEncapsulationSocket();
        const port = encap.getPort();
        const transform = await loopbackTransform(ipsec, 'IPv4', cbcOnly, encap);
        await encap.close();
        await assert.rejects(ipsec.openUdpEncapsulationSocket(port), ResourceUnavailableError);
        await transform.close();
        await using reopened = await ipsec.openUdpEncapsulationSocket(port);
        assert.equal(reopened.getPort(), port);
      });
    });

    describe('transform validation', () => {
      const gcm = () => new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, getKey(288), 128);
      const sha256 = () => new IpSecAlgorithm(IpSecAlgorithm.AUTH_HMAC_SHA256, getKey(256), 128);
      const cases: [string, (b: IpSecTransformBuilder) => IpSecTransformBuilder, string][] = [
        ['no algorithm', (b) => b, 'No Encryption or Authentication algorithms specified'],
        [
          'CBC as authentication',
          (b) => b.setAuthentication(cbc()),
          'Unsupported algorithm for Authentication',
        ],
        [
          'GCM as authentication',
          (b) => b.setAuthentication(gcm()),
          'Unsupported algorithm for Authentication',
        ],
        [
          'HMAC as encryption',
          (b) => b.setEncryption(sha256()),
          'Unsupported algorithm for Encryption',
        ],
        [
          'GCM as encryption',
          (b) => b.setEncryption(gcm()),
          'Unsupported algorithm for Encryption',
        ],
        [
          'HMAC as AEAD',
          (b) => b.setAuthenticatedEncryption(sha256()),
          'Unsupported algorithm for Authenticated Encryption',
        ],
        [
          'CBC as AEAD',
          (b) => b.setAuthenticatedEncryption(cbc()),
          'Unsupported algorithm for Authenticated Encryption',
        ],
        ...(
          [
            [
              'AEAD + auth',
              (b: IpSecTransformBuilder) =>
                b.setAuthenticatedEncryption(gcm()).setAuthentication(sha256()),
            ],
            [
              'AEAD + crypt',
              (b: IpSecTransformBuilder) =>
                b.setAuthenticatedEncryption(gcm()).setEncryption(cbc()),
            ],
            [
              'AEAD + auth + crypt',
              (b: IpSecTransformBuilder) =>
                b
                  .setAuthenticatedEncryption(gcm())
                  .setEncryption(cbc())
                  .setAuthentication(sha256()),
            ],
          ] as const
        ).map(
          ([n, f]) =>
            [
              n,
              f,
              'Authenticated Encryption is mutually exclusive with other Authentication or Encryption algorithms',
            ] as [string, (b: IpSecTransformBuilder) => IpSecTransformBuilder, string],
        ),
      ];
      for (const [what, configure, message] of cases) {
        test(`${what} is refused: "${message}"`, async () => {
          await using ipsec = await device.createManager();
          await using encap = await ipsec.openUdpEncapsulationSocket();
          await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
          await assert.rejects(
            configure(new IpSecTransform.Builder(ipsec))
              .setIpv4Encapsulation(encap, 4500)
              .buildTransportModeTransform('127.0.0.1', spi),
            { name: 'IllegalArgumentError', message },
          );
        });
      }
      test('an SPI serves one transform ever (testCreateTwoTransformsWithSameSpis)', async () => {
        await using ipsec = await device.createManager();
        await using encap = await ipsec.openUdpEncapsulationSocket();
        await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
        const builder = cbcBuilder(ipsec, encap);
        const first = await builder.buildTransportModeTransform('127.0.0.1', spi);
        const expected = {
          name: 'IllegalStateError',
          message: 'SPI already in use; cannot be used in new Transforms',
        };
        await assert.rejects(builder.buildTransportModeTransform('127.0.0.1', spi), expected);
        await first.close();
        await assert.rejects(builder.buildTransportModeTransform('127.0.0.1', spi), expected);
      });
      test('a closed SPI, a closed encap socket, a bad remote port are refused', async () => {
        await using ipsec = await device.createManager();
        const encap = await ipsec.openUdpEncapsulationSocket();
        const spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
        const builder = new IpSecTransform.Builder(ipsec).setEncryption(cbc());
        for (const port of [0, 65536]) {
          await assert.rejects(
            builder.setIpv4Encapsulation(encap, port).buildTransportModeTransform('127.0.0.1', spi),
            { name: 'IllegalArgumentError', message: `Invalid remote UDP port: ${port}` },
          );
        }
        await spi.close();
        await assert.rejects(
          builder.setIpv4Encapsulation(encap, 4500).buildTransportModeTransform('127.0.0.1', spi),
          {
            name: 'IllegalArgumentError',
            message: 'Invalid SecurityParameterIndex',
          },
        );
        await encap.close();
        assert.throws(() => builder.setIpv4Encapsulation(encap, 4500), {
          name: 'IllegalArgumentError',
          message: 'Invalid UdpEncapsulationSocket',
        });
      });
      test('source and destination families must match, and the encap socket family too', async () => {
        await using ipsec = await device.createManager();
        await using encap4 = await ipsec.openUdpEncapsulationSocket();
        await using spi6 = await ipsec.allocateSecurityParameterIndex('::1');
        await assert.rejects(
          cbcBuilder(ipsec, encap4).buildTransportModeTransform('127.0.0.1', spi6),
          {
            name: 'IllegalArgumentError',
            message:
              'Source address (127.0.0.1) and destination address (::1) have different address families.',
          },
        );
        await assert.rejects(cbcBuilder(ipsec, encap4).buildTransportModeTransform('::1', spi6), {
          name: 'IllegalArgumentError',
          message: 'UDP encapsulation socket and destination address families must match',
        });
        await assert.rejects(
          cbcBuilder(ipsec, encap4).buildTransportModeTransform('::', spi6),
          IllegalArgumentError,
        );
      });
      test("another owner's SPI or encap socket is unknown to this owner", async () => {
        await using app1 = await device.createManager({ ownerId: 'owner-a' });
        await using app2 = await device.createManager({ ownerId: 'owner-b' });
        await using encap1 = await app1.openUdpEncapsulationSocket();
        await using encap2 = await app2.openUdpEncapsulationSocket();
        await using spi1 = await app1.allocateSecurityParameterIndex('127.0.0.1');
        await assert.rejects(
          cbcBuilder(app2, encap2).buildTransportModeTransform('127.0.0.1', spi1),
          {
            name: 'IllegalArgumentError',
            message: `No such SpiRecord found for given id: ${spi1.getResourceId()}`,
          },
        );
        await using spi2 = await app2.allocateSecurityParameterIndex('127.0.0.1');
        await assert.rejects(
          cbcBuilder(app2, encap1).buildTransportModeTransform('127.0.0.1', spi2),
          {
            name: 'IllegalArgumentError',
            message: `No such EncapSocketRecord found for given id: ${encap1.getResourceId()}`,
          },
        );
      });
    });

    describe('applying transforms', () => {
      test('bad direction, closed transform, foreign manager, family mismatch', async () => {
        await using ipsec = await device.createManager({ ownerId: 'apply-owner' });
        await using sibling = await device.createManager({ ownerId: 'apply-owner' });
        await using stranger = await device.createManager({ ownerId: 'apply-stranger' });
        await using encap = await ipsec.openUdpEncapsulationSocket();
        const transform = await loopbackTransform(ipsec, 'IPv4', cbcOnly, encap);
        await using s4 = ipsec.createDatagramSocket('udp4');
        await assert.rejects(ipsec.applyTransportModeTransform(s4, 5 as 0, transform), {
          name: 'IllegalArgumentError',
          message: 'Invalid Direction: 5',
        });
        await assert.rejects(
          sibling.applyTransportModeTransform(s4, IpSecManager.DIRECTION_OUT, transform),
          {
            name: 'SecurityError',
            message: 'Only the owner of an IpSec Transform may apply it!',
          },
        );
        await assert.rejects(
          stranger.applyTransportModeTransform(s4, IpSecManager.DIRECTION_OUT, transform),
          IllegalArgumentError,
        );
        await using encap6 = await ipsec.openUdpEncapsulationSocket(undefined, { family: 'IPv6' });
        await using t6 = await loopbackTransform(ipsec, 'IPv6', cbcOnly, encap6);
        await assert.rejects(
          ipsec.applyTransportModeTransform(s4, IpSecManager.DIRECTION_OUT, t6),
          IllegalArgumentError,
        );
        await transform.close();
        await assert.rejects(
          ipsec.applyTransportModeTransform(s4, IpSecManager.DIRECTION_OUT, transform),
          IllegalArgumentError,
        );
        assert.ok(SecurityError);
      });
      test('sending to an address other than the transform destination throws', async () => {
        await using ipsec = await device.createManager();
        await using encap = await ipsec.openUdpEncapsulationSocket();
        await using transform = await loopbackTransform(ipsec, 'IPv4', cbcOnly, encap);
        await using s = ipsec.createDatagramSocket('udp4');
        await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_OUT, transform);
        await assert.rejects(s.send(TEST_DATA, 9, '127.0.0.2'), DestinationMismatchError);
      });
      test('one-directional application (doTestCreateTransform): IN only drops clear text; OUT only never delivers clear text', async () => {
        await using ipsec = await device.createManager();
        await using encap = await ipsec.openUdpEncapsulationSocket();
        await using transform = await loopbackTransform(
          ipsec,
          'IPv4',
          cbcWith('hmac(sha256)', 256, 128),
          encap,
        );
        await using receiver = ipsec.createDatagramSocket('udp4');
        const port = (await receiver.bind(0, '127.0.0.1')).port;
        await ipsec.applyTransportModeTransform(receiver, IpSecManager.DIRECTION_IN, transform);
        const clear = await plainSocket('IPv4');
        try {
          const got = nextMessage(receiver, 300);
          await new Promise<void>((r) => clear.send(TEST_DATA, port, '127.0.0.1', () => r()));
          assert.equal(
            await got,
            undefined,
            'clear text reached a socket with an inbound transform',
          );
        } finally {
          await closePlain(clear);
        }
        await using sender = ipsec.createDatagramSocket('udp4');
        await ipsec.applyTransportModeTransform(sender, IpSecManager.DIRECTION_OUT, transform);
        await ipsec.removeTransportModeTransforms(receiver);
        const got = nextMessage(receiver, 300);
        await sender.send(TEST_DATA, port, '127.0.0.1');
        const r = await got;
        assert.ok(r === undefined || Buffer.from(TEST_DATA).equals(r.message));
      });
      test('after close() of an applied transform I/O fails until removeTransportModeTransforms', async () => {
        await using ipsec = await device.createManager();
        await using encap = await ipsec.openUdpEncapsulationSocket();
        const transform = await loopbackTransform(
          ipsec,
          'IPv4',
          cbcWith('hmac(sha1)', 160, 96),
          encap,
        );
        await using s = ipsec.createDatagramSocket('udp4');
        const port = (await s.bind(0, '127.0.0.1')).port;
        await applyBoth(ipsec, s, transform);
        await transform.close();
        await assert.rejects(s.send(TEST_DATA, port, '127.0.0.1'), TransformClosedError);
        await assert.rejects(async () => {
          for await (const _ of s) break;
        }, TransformClosedError);
        await assert.rejects(transform.requestIpSecTransformState(), {
          name: 'IllegalStateError',
          message: 'This transform is already closed',
        });
        await ipsec.removeTransportModeTransforms(s);
        const got = nextMessage(s);
        await s.send(TEST_DATA, port, '127.0.0.1');
        assert.deepEqual((await got)?.message, Buffer.from(TEST_DATA));
      });
      test('no clear text on the wire after close() of an applied transform (tshark capture on lo)', async () => {
        await using ipsec = await device.createManager();
        await using encap = await ipsec.openUdpEncapsulationSocket();
        const marker = `tsnetd-cleartext-canary-${process.pid}-${Date.now()}`;
        const transform = await loopbackTransform(
          ipsec,
          'IPv4',
          cbcWith('hmac(sha256)', 256, 128),
          encap,
        );
        await using s = ipsec.createDatagramSocket('udp4');
        const port = (await s.bind(0, '127.0.0.1')).port;
        await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_OUT, transform);
        const dir = mkdtempSync(join(tmpdir(), 'tsnetd-capture-'));
        const pcap = join(dir, 'lo.pcap');
        const capture = spawn(
          'tshark',
          [
            '-i',
            'lo',
            '-p',
            '-f',
            `udp port ${port} or udp port ${encap.getPort()}`,
            '-w',
            pcap,
            '-q',
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        try {
          await new Promise<void>((resolve, reject) => {
            let stderr = '';
            const t = setTimeout(
              () => reject(new Error(`tshark did not start: ${stderr.slice(-500)}`)),
              30000,
            );
            capture.stderr.on('data', (d: Buffer) => {
              stderr += String(d);
              if (String(d).includes('Capturing on')) {
                clearTimeout(t);
                resolve();
              }
            });
          });
          await s.send(`${marker}-protected`, port, '127.0.0.1');
          await transform.close();
          for (let i = 0; i < 20; i++) {
            await assert.rejects(
              s.send(`${marker}-after-close`, port, '127.0.0.1'),
              TransformClosedError,
            );
          }
          await new Promise((r) => setTimeout(r, 500));
        } finally {
          const exited = new Promise((r) => capture.once('exit', r));
          capture.kill('SIGINT');
          await exited;
        }
        const bytes = readFileSync(pcap);
        rmSync(dir, { recursive: true, force: true });
        assert.ok(bytes.length > 24, 'the capture is empty');
        assert.equal(bytes.indexOf(marker), -1, 'the plaintext marker appeared on the wire');
        assert.ok(bytes.length > 24 + 16 + 28, 'the protected datagram was not captured');
      });
      test('rekey: outbound switches at once, inbound accepts old and new until the old is closed — no datagram lost', async () => {
        await using ipsec = await device.createManager();
        await using encap = await ipsec.openUdpEncapsulationSocket();
        const gcm = (k: number) => (b: IpSecTransformBuilder) =>
          b.setAuthenticatedEncryption(
            new IpSecAlgorithm(
              IpSecAlgorithm.AUTH_CRYPT_AES_GCM,
              getKey(288).map((x) => x ^ k),
              128,
            ),
          );
        const t1 = await loopbackTransform(ipsec, 'IPv4', gcm(1), encap);
        await using t2 = await loopbackTransform(ipsec, 'IPv4', gcm(2), encap);
        await using sender = ipsec.createDatagramSocket('udp4');
        await using receiver = ipsec.createDatagramSocket('udp4');
        const port = (await receiver.bind(0, '127.0.0.1')).port;
        await ipsec.applyTransportModeTransform(sender, IpSecManager.DIRECTION_OUT, t1);
        await ipsec.applyTransportModeTransform(receiver, IpSecManager.DIRECTION_IN, t1);
        const received = new Map<number, number>();
        receiver.on('message', (msg: Buffer) =>
          received.set(msg.readUInt32BE(0), (received.get(msg.readUInt32BE(0)) ?? 0) + 1),
        );
        const total = 3000;
        const inFlight: Promise<void>[] = [];
        for (let i = 0; i < total; i++) {
          if (i === 1000)
            await ipsec.applyTransportModeTransform(receiver, IpSecManager.DIRECTION_IN, t2);
          if (i === 1500)
            await ipsec.applyTransportModeTransform(sender, IpSecManager.DIRECTION_OUT, t2);
          if (i === 2500) {
            await Promise.all(inFlight.splice(0));
            await new Promise((r) => setTimeout(r, 50));
            await t1.close();
          }
          const msg = Buffer.alloc(64);
          msg.writeUInt32BE(i, 0);
          inFlight.push(sender.send(msg, port, '127.0.0.1'));
          if (inFlight.length >= 32) {
            await Promise.all(inFlight.splice(0));
            // Let the event loop read the receiving socket (send callbacks alone never yield to I/O).
            await new Promise((r) => setImmediate(r));
          }
        }
        await Promise.all(inFlight);
        for (let i = 0; i < 100 && received.size < total; i++)
          await new Promise((r) => setTimeout(r, 20));
        assert.equal(
          received.size,
          total,
          `lost ${total - received.size} datagrams: ${JSON.stringify(ipsec.getStatistics())}`,
        );
        assert.ok(
          [...received.values()].every((n) => n === 1),
          'a datagram was delivered twice',
        );
        const s1 = (await t2.requestIpSecTransformState()).txHighestSequenceNumber;
        assert.equal(s1, 1500n);
      });
      test('IpSecTransformState after one datagram both ways on ::1 (testRequestIpSecTransformState)', async () => {
        await using ipsec = await device.createManager();
        await using encap = await ipsec.openUdpEncapsulationSocket(undefined, { family: 'IPv6' });
        await using transform = await loopbackTransform(
          ipsec,
          'IPv6',
          cbcWith('hmac(sha256)', 256, 128),
          encap,
        );
        await using s = ipsec.createDatagramSocket('udp6');
        const port = (await s.bind(0, '::1')).port;
        await applyBoth(ipsec, s, transform);
        const got = nextMessage(s);
        await s.send(TEST_DATA, port, '::1');
        assert.ok((await got) !== undefined);
        const state = await transform.requestIpSecTransformState();
        assert.equal(state.getTxHighestSequenceNumber(), 1n);
        assert.equal(state.getRxHighestSequenceNumber(), 1n);
        assert.equal(state.getPacketCount(), 2n);
        assert.equal(state.getByteCount(), 56n);
        const bitmap = state.getReplayBitmap();
        assert.equal(bitmap.length, 512);
        assert.equal(bitmap[0], 1);
        assert.ok(bitmap.subarray(1).every((b) => b === 0));
      });
    });

    describe('IKE over the encapsulation socket (testIkeOverUdpEncapSocket)', () => {
      test('IKE datagrams (non-ESP marker first) pass unchanged both ways; keepalives are not delivered', async () => {
        await using ipsec = await device.createManager();
        await using encap = await ipsec.openUdpEncapsulationSocket();
        const ike = Buffer.concat([Buffer.alloc(4), Buffer.alloc(8, 0x11), Buffer.from(TEST_DATA)]);
        const observer = await plainSocket('IPv4');
        try {
          const observerPort = (observer.address() as { port: number }).port;
          const wire = nextMessage(observer);
          await encap.send(ike, observerPort, '127.0.0.1');
          const w = await wire;
          assert.deepEqual(w?.message, ike);
          assert.equal(w?.port, encap.getPort());
          const delivered = nextMessage(encap);
          await new Promise<void>((r) =>
            observer.send(ike, encap.getPort(), '127.0.0.1', () => r()),
          );
          const d = await delivered;
          assert.deepEqual(d?.message, ike);
          assert.equal(d?.port, observerPort);
          const none = nextMessage(encap, 300);
          await new Promise<void>((r) =>
            observer.send(Buffer.of(0xff), encap.getPort(), '127.0.0.1', () => r()),
          );
          assert.equal(await none, undefined, 'a NAT-keepalive reached the IKE listener');
          // Every backend counts IKE on the manager's encapsulation sockets (the service client
          // did not before its sockets became the kernel backend's).
          const counted = ipsec.getStatistics();
          assert.equal(counted['tx.ike'], 1);
          assert.equal(counted['tx.ike.bytes'], ike.length);
          assert.equal(counted['rx.ike'], 1);
          assert.equal(counted['rx.ike.bytes'], ike.length);
        } finally {
          await closePlain(observer);
        }
      });
      test('IKE still flows after a transform using the socket is applied to another socket', async () => {
        await using ipsec = await device.createManager();
        await using encap = await ipsec.openUdpEncapsulationSocket();
        await using transform = await loopbackTransform(
          ipsec,
          'IPv4',
          cbcWith('hmac(md5)', 128, 96),
          encap,
        );
        await using s = ipsec.createDatagramSocket('udp4');
        await applyBoth(ipsec, s, transform);
        const got = nextMessage(encap);
        const ike = Buffer.concat([Buffer.alloc(4), Buffer.from(TEST_DATA)]);
        await encap.send(ike, encap.getPort(), '127.0.0.1');
        assert.deepEqual((await got)?.message, ike);
        const port = (await s.bind(0, '127.0.0.1')).port;
        const data = nextMessage(s);
        await s.send(TEST_DATA, port, '127.0.0.1');
        assert.deepEqual((await data)?.message, Buffer.from(TEST_DATA));
      });
    });

    describe('lifetime', () => {
      test('close() is idempotent on every resource and toString never shows keys', async () => {
        await using ipsec = await device.createManager();
        const encap = await ipsec.openUdpEncapsulationSocket();
        const spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
        const key = getKey(256);
        const t = await new IpSecTransform.Builder(ipsec)
          .setEncryption(new IpSecAlgorithm('cbc(aes)', key))
          .setIpv4Encapsulation(encap, 4500)
          .buildTransportModeTransform('127.0.0.1', spi);
        assert.match(String(t), /^IpSecTransform\{resourceId=\d+\}$/);
        assert.match(String(spi), /^SecurityParameterIndex\{spi=0x[0-9a-f]{8},resourceId=\d+\}$/);
        assert.match(String(encap), /^UdpEncapsulationSocket\{port=\d+,resourceId=\d+\}$/);
        assert.ok(!JSON.stringify(t.describe()).includes(Buffer.from(key).toString('hex')));
        for (const r of [t, spi, encap, t, spi, encap]) await r.close();
        assert.equal(t.getResourceId(), -1);
        // `{}` does not compile (the parameter is an IpSecManager); forced through, it fails at run time.
        assert.throws(() => new IpSecTransform.Builder({} as never), TypeError);
        assert.ok(IllegalStateError);
      });
      test('closing the manager releases its resources (quota and ports)', async () => {
        const ipsec = await device.createManager({ ownerId: 'manager-close' });
        const encap = await ipsec.openUdpEncapsulationSocket();
        const port = encap.getPort();
        await loopbackTransform(ipsec, 'IPv4', cbcOnly, encap);
        await ipsec.close();
        await ipsec.close();
        await using again = await device.createManager({ ownerId: 'manager-close' });
        assert.deepEqual(again.getQuotaUsage(), { spis: 0, transforms: 0, encapSockets: 0 });
        await using reopened = await again.openUdpEncapsulationSocket(port);
        assert.equal(reopened.getPort(), port);
      });
    });

    describe('statistics (counters every backend reports)', () => {
      test("each manager counts its own sends and deliveries, not another manager's", async () => {
        await using mine = await device.createManager({ ownerId: 'stats-mine' });
        await using theirs = await device.createManager({ ownerId: 'stats-theirs' });
        await using encap = await mine.openUdpEncapsulationSocket();
        await using transform = await loopbackTransform(mine, 'IPv4', cbcOnly, encap);
        await using a = mine.createDatagramSocket('udp4');
        await using b = mine.createDatagramSocket('udp4');
        const pb = (await b.bind(0, LOOPBACK.IPv4)).port;
        await applyBoth(mine, a, transform);
        await applyBoth(mine, b, transform);
        const received = nextMessage(b, 2000);
        await a.send(TEST_DATA, pb, LOOPBACK.IPv4);
        assert.ok((await received) !== undefined, 'not delivered');
        await assert.rejects(a.send(TEST_DATA, pb, '127.0.0.2'), DestinationMismatchError);
        await using clear = theirs.createDatagramSocket('udp4');
        await clear.send('abcd', 9, LOOPBACK.IPv4);
        const m = mine.getStatistics();
        const t = theirs.getStatistics();
        assert.equal(m['tx.esp'], 1);
        assert.equal(m['rx.delivered'], 1);
        assert.equal(m['rx.delivered.bytes'], TEST_DATA.length);
        assert.equal(m['tx.drop.destination-mismatch'], 1);
        assert.equal(m['tx.clear'], 0);
        assert.equal(t['tx.clear'], 1);
        assert.equal(t['tx.clear.bytes'], 4);
        assert.equal(t['tx.esp'], 0);
        assert.equal(t['rx.delivered'], 0);
        assert.equal(t['tx.drop.destination-mismatch'], 0);
      });
    });
  });
}
