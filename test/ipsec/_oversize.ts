/**
 * Shared checks of the largest datagram an `IpSecDatagramSocket` sends, for the userspace tests
 * (ipsec_datagram_socket.test.ts) and the kernel backend's parity run in the qemu guest
 * (helpers/kernel_peer/guest_kernel_backend_parity.ts): the expected maximum, computed
 * independently of the implementation, and the assertions on both sides of it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  IpSecAlgorithm,
  type IpSecDatagramSocket,
  IpSecManager,
  type IpSecTransform,
  type IpSecTransformBuilder,
  MessageTooLongError,
} from '../../src/ipsec/mod.ts';
import { type Family, gcm } from './_fixtures.ts';
import { nextMessage } from './_suite.ts';

/** Largest UDP payload per family (65535 minus the IP and UDP headers). */
export const MAX_UDP: Record<Family, number> = { IPv4: 65507, IPv6: 65527 };

/**
 * Largest payload whose ESP packet fits `outer` bytes: CTS `PacketUtils` length of the inner UDP
 * datagram (payload + 8), searched downwards (independent of the implementation).
 */
export function largestProtectedPayload(
  outer: number,
  iv: number,
  block: number,
  icv: number,
): number {
  const espLength = (inner: number) => Math.ceil((inner + 2) / block) * block + iv + 8 + icv;
  let payload = outer;
  while (espLength(payload + 8) > outer) payload--;
  return payload;
}

/** AES-CBC-256 + HMAC-SHA-256-128, fresh keys per call. */
export const cbcHmac = () => (b: IpSecTransformBuilder) =>
  b
    .setEncryption(new IpSecAlgorithm(IpSecAlgorithm.CRYPT_AES_CBC, randomBytes(32)))
    .setAuthentication(new IpSecAlgorithm(IpSecAlgorithm.AUTH_HMAC_SHA256, randomBytes(32), 128));

/** The algorithm pairs the size tests run, with their IV, block and ICV lengths. */
export const OVERSIZE_CASES = [
  { name: 'rfc4106(gcm(aes))-160/128', configure: gcm, iv: 8, block: 4, icv: 16 },
  { name: 'cbc(aes)-256 + hmac(sha256)-128', configure: cbcHmac, iv: 16, block: 16, icv: 16 },
] as const;

/** `sending` rejects with `MessageTooLongError` (its stable code, `maxLength` = `max`). */
export async function assertTooLong(sending: Promise<unknown>, max: number): Promise<void> {
  await assert.rejects(sending, (err: unknown) => {
    assert.ok(err instanceof MessageTooLongError, String(err));
    assert.equal(err.code, 'ERR_IPSEC_MESSAGE_TOO_LONG');
    assert.equal(err.maxLength, max);
    return true;
  });
}

/** `length` random bytes sent by `s` to itself (bound to `port` on `address`) arrive intact. */
async function assertArrivesIntact(
  s: IpSecDatagramSocket,
  port: number,
  address: string,
  length: number,
  waitMs: number,
): Promise<void> {
  const payload = randomBytes(length);
  const got = nextMessage(s, waitMs);
  await s.send(payload, port, address);
  const message = (await got)?.message;
  assert.equal(message?.length, length, `${length} bytes did not arrive`);
  assert.ok(message.equals(payload), `${length} bytes arrived corrupted`);
}

/**
 * On a new socket of `type` bound on `address` with `t` applied both ways: `max - 1` and `max`
 * bytes arrive intact, `max + 1` throws `MessageTooLongError` without using a sequence number.
 */
export async function assertLargestProtectedThenTooLong(
  ipsec: IpSecManager,
  t: IpSecTransform,
  type: 'udp4' | 'udp6',
  address: string,
  max: number,
  waitMs: number,
): Promise<void> {
  await using s = ipsec.createDatagramSocket(type);
  const { port } = await s.bind(0, address);
  await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_OUT, t);
  await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_IN, t);
  for (const length of [max - 1, max]) await assertArrivesIntact(s, port, address, length, waitMs);
  const before = (await t.requestIpSecTransformState()).txHighestSequenceNumber;
  await assertTooLong(s.send(randomBytes(max + 1), port, address), max);
  const after = (await t.requestIpSecTransformState()).txHighestSequenceNumber;
  assert.equal(after, before, 'a sequence number was used for a datagram that was not sent');
  assert.equal(before, 2n);
}

/** On a new clear-text socket of `type` bound on `address`: `max` bytes arrive, `max + 1` throws. */
export async function assertLargestClearThenTooLong(
  ipsec: IpSecManager,
  type: 'udp4' | 'udp6',
  address: string,
  max: number,
  waitMs: number,
): Promise<void> {
  await using s = ipsec.createDatagramSocket(type);
  const { port } = await s.bind(0, address);
  await assertArrivesIntact(s, port, address, max, waitMs);
  await assertTooLong(s.send(randomBytes(max + 1), port, address), max);
}
