/**
 * Shared setup of the IpSecManager tests that go beyond the behaviour suite (`_suite.ts`):
 * loopback transforms, plain `dgram` peers, a datagram flood and queue draining. Real UDP sockets
 * on loopback only.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { setTimeout as delay } from 'node:timers/promises';
import {
  IpSecAlgorithm,
  type IpSecManager,
  IpSecTransform,
  type IpSecTransformBuilder,
} from '../../src/ipsec/mod.ts';

export const LO = '127.0.0.1';
export const LO6 = '::1';

export type Family = 'IPv4' | 'IPv6';

/** AES-GCM with a random key of `keyBytes` bytes (20 = 128-bit key + salt) and a 128-bit ICV. */
export const gcm =
  (keyBytes = 20) =>
  (b: IpSecTransformBuilder): IpSecTransformBuilder =>
    b.setAuthenticatedEncryption(
      new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(keyBytes), 128),
    );

/**
 * A transform from loopback to loopback on a fresh encapsulation socket that is closed at once
 * (the transform keeps it alive); the SPI is closed after the build (CTS pattern).
 */
export async function loopbackTransform(
  ipsec: IpSecManager,
  family: Family = 'IPv4',
  configure: (b: IpSecTransformBuilder) => IpSecTransformBuilder = gcm(),
): Promise<IpSecTransform> {
  const address = family === 'IPv4' ? LO : LO6;
  const encap = await ipsec.openUdpEncapsulationSocket(undefined, { family });
  await using spi = await ipsec.allocateSecurityParameterIndex(address);
  const t = await configure(new IpSecTransform.Builder(ipsec))
    .setIpv4Encapsulation(encap, encap.getPort())
    .buildTransportModeTransform(address, spi);
  await encap.close(); // the transform keeps it alive
  return t;
}

/** A plain `dgram` socket bound on loopback, closed by `await using`. */
export async function plainSocket(
  type: 'udp4' | 'udp6' = 'udp4',
): Promise<Socket & AsyncDisposable> {
  const s = createSocket(type);
  await new Promise<void>((resolve) => s.bind(0, type === 'udp4' ? LO : LO6, resolve));
  return Object.assign(s, {
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => s.close(() => resolve())),
  });
}

/**
 * Sends datagrams `body(0)`..`body(count - 1)` from `from` to `port` on 127.0.0.1 in batches
 * of 50, yielding to the event loop between batches.
 */
export async function flood(
  from: Socket,
  port: number,
  count: number,
  body: (index: number) => Uint8Array,
): Promise<void> {
  for (let i = 0; i < count; i += 50) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(count, i + 50); j++) {
      batch.push(new Promise((resolve) => from.send(body(j), port, LO, () => resolve())));
    }
    await Promise.all(batch);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Waits until `read()` stops changing for `quietMs`, and returns its last value. */
export async function settle(read: () => number, quietMs = 150): Promise<number> {
  let last = -1;
  while (read() !== last) {
    last = read();
    await delay(quietMs);
  }
  return last;
}

/** Pulls every item already queued (stops when `next()` would wait). */
export async function drain<T>(iterator: AsyncIterator<T>): Promise<T[]> {
  const out: T[] = [];
  while (true) {
    const r = await Promise.race([iterator.next(), delay(100).then(() => 'waiting' as const)]);
    if (r === 'waiting' || r.done === true) return out;
    out.push(r.value);
  }
}
