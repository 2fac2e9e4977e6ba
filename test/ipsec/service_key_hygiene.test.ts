/**
 * Keys crossing the IPsec service's Unix socket leave no copy behind, on either side: in one
 * process, a daemon (IpSecServiceServer) and a client (the ServiceConnection that the `service`
 * backend of IpSecManager sends its transform builds through) exchange `createSa` requests that
 * carry distinctive random keys (AEAD, and CBC with HMAC). This host's kernel has no ESP, so the
 * daemon answers KernelBackendUnavailableError (the SPI step of IpSecManager fails the same way
 * before any key is sent, hence the connection is driven directly), but the keys did cross the
 * wire and were decoded by the daemon. Once the test zeroes its own copies, the process memory
 * (JS heaps and native heaps, read through /proc/self/mem) is scanned: the key bytes are found
 * nowhere — not in the client's frame buffers, the native send/receive buffers, nor the daemon's
 * reassembly buffers and decoded secrets. Controls: the scan finds a key while the test's copy is
 * live, and finds nothing before the key was ever assembled (the needle is kept as two halves).
 * The test's own copies live off the JS heap: the collector moves small on-heap arrays and leaves
 * their old bytes behind, which zeroing cannot reach. Also: a build the daemon's IpSecService
 * refuses after the algorithm step (unknown SPI, families that differ) leaves no copy of its keys
 * (this host cannot reach that step over the socket, so the service runs in-process here, on the
 * userspace backend, with the daemon's kind of key).
 */
import assert from 'node:assert/strict';
import { getRandomValues } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IpSecAlgorithm } from '../../src/ipsec/ipsec_algorithm.ts';
import { IpSecService } from '../../src/ipsec/ipsec_service.ts';
import { IpSecServiceServer } from '../../src/ipsec/ipsec_service_daemon.ts';
import { IpSecManager, KernelBackendUnavailableError } from '../../src/ipsec/mod.ts';
import { ServiceConnection } from '../../src/ipsec/service/connection.ts';
import { UserspaceBackend } from '../../src/ipsec/userspace_backend.ts';
import { countInProcessMemory } from '../esp/helpers/memory_scan.ts';

/** A key kept as two random halves (never adjacent in memory) until `assemble()`. */
class SplitKey {
  readonly first: Uint8Array;
  readonly second: Uint8Array;
  constructor(length: number) {
    this.first = getRandomValues(new Uint8Array(Math.floor(length / 2)));
    this.second = getRandomValues(new Uint8Array(length - this.first.length));
  }
  /** The key, off the JS heap, so that zeroing it leaves no moved copy of the test's own. */
  assemble(): Uint8Array {
    const key = offHeap(this.first.length + this.second.length);
    key.set(this.first);
    key.set(this.second, this.first.length);
    return key;
  }
  count(): number {
    return countInProcessMemory(this.first, this.second);
  }
}

/** A buffer off the JS heap (an ArrayBuffer's store): the collector never moves, so never copies, it. */
function offHeap(length: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(length));
}

test('keys sent to the IPsec service are zeroed after use on both sides of the socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnetd-ipsec-keys-'));
  const servicePath = join(dir, 'ipsec');
  const aead = new SplitKey(36); // rfc4106(gcm(aes)): 32-byte key + 4-byte salt
  const cbc = new SplitKey(32);
  const hmac = new SplitKey(32);
  const all = [aead, cbc, hmac];
  // control 1: the halves alone are never found as a key (no false positive from the needle)
  for (const k of all) assert.equal(k.count(), 0, 'the needle halves must not look like a key');
  const server = await IpSecServiceServer.listen({ socketPath: servicePath });
  try {
    // the manager's own path: on this host the SPI step already fails, before any key is sent
    const ipsec = await IpSecManager.create({ backend: 'service', servicePath });
    await assert.rejects(
      ipsec.allocateSecurityParameterIndex('127.0.0.1', 0x5151),
      KernelBackendUnavailableError,
    );
    await ipsec.close();

    const connection = await ServiceConnection.open(servicePath);
    try {
      const aeadKey = aead.assemble();
      const cbcKey = cbc.assemble();
      const hmacKey = hmac.assemble();
      // control 2: a live copy is found
      for (const k of all) assert.ok(k.count() >= 1, 'the scan finds a live key');
      const requests: Array<[Record<string, unknown>, Uint8Array]> = [
        [
          {
            aead: { name: 'rfc4106(gcm(aes))', keyLength: aeadKey.length, bits: 128 },
          },
          (() => {
            const secret = offHeap(aeadKey.length);
            secret.set(aeadKey);
            return secret;
          })(),
        ],
        [
          {
            encryption: { name: 'cbc(aes)', keyLength: cbcKey.length },
            authentication: { name: 'hmac(sha256)', keyLength: hmacKey.length, bits: 128 },
          },
          (() => {
            const secret = offHeap(cbcKey.length + hmacKey.length);
            secret.set(cbcKey);
            secret.set(hmacKey, cbcKey.length);
            return secret;
          })(),
        ],
      ];
      for (const [algorithms, secret] of requests) {
        const json = { spiId: 1, source: '127.0.0.1', replayWindowSize: 0, esn: false };
        await assert.rejects(
          connection.request('createSa', { ...json, ...algorithms }, secret),
          KernelBackendUnavailableError,
        );
        assert.ok(
          secret.every((b) => b === 0),
          'the client zeroes the secret it sent',
        );
      }
      // the daemon still serves this connection: it decoded both frames and answered
      const hello = await connection.request('hello', { version: 1 });
      assert.equal(hello.json.version, 1);
      // control 3: the keys are still live in the test's own copies
      for (const k of all) assert.ok(k.count() >= 1, 'the scan finds the key the test holds');
      aeadKey.fill(0);
      cbcKey.fill(0);
      hmacKey.fill(0);
    } finally {
      connection.close();
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const found = all.map((k) => k.count());
  assert.deepEqual(found, [0, 0, 0], 'no copy of any key is left in the process');
});

/** The daemon's kind of algorithm: no key of its own, hands out copies of a buffer the test owns. */
class BorrowedKeyAlgorithm extends IpSecAlgorithm {
  readonly #key: Uint8Array;
  constructor(name: string, key: Uint8Array, bits: number) {
    super(name, new Uint8Array(key.length), bits);
    this.#key = key;
  }
  override getKey(): Uint8Array {
    return Uint8Array.from(this.#key);
  }
}

test('a build refused after the algorithm step (no such SPI, other family) zeroes its key copies', async () => {
  const service = new IpSecService(new UserspaceBackend());
  const caller = { owner: 'uid:4242', token: {} };
  const options = {
    replayWindowSize: 0,
    esn: false,
    keepaliveIntervalMs: 0,
    randomUint32: () => 7,
  };
  const spi = await service.allocateSpi(caller, '::1', 0x4242, options);
  const split = new SplitKey(36);
  assert.equal(split.count(), 0);
  const key = split.assemble();
  for (const [spiResourceId, sourceAddress] of [
    [spi.resourceId + 1000, '127.0.0.1'], // no such SPI record
    [spi.resourceId, '127.0.0.1'], // the SPI's destination is IPv6
  ] as const) {
    await assert.rejects(
      service.createTransform(
        caller,
        {
          sourceAddress,
          spiResourceId,
          authenticatedEncryption: new BorrowedKeyAlgorithm('rfc4106(gcm(aes))', key, 128),
        },
        options,
      ),
      /No such SpiRecord|different address families/,
    );
  }
  assert.ok(split.count() >= 1, 'the scan finds the key the test holds');
  key.fill(0);
  await service.releaseSpi(caller, spi.resourceId);
  assert.equal(split.count(), 0, 'a refused build left a copy of its key');
});
