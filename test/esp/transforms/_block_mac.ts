/**
 * Shared by the AES-CMAC and AES-XCBC-MAC tests: byte helpers, AES-128-ECB for the block-by-block
 * references, random splitting of a message into parts, and the test bodies both MACs share
 * (random cross-check against a reference, independent results on one instance, the views in
 * which a key must never show).
 */
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

/** What both MAC classes offer. */
export interface BlockMac {
  compute(parts: readonly Uint8Array[]): Uint8Array;
  dispose(): void;
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
export const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));

/** One AES-128 block encryption (ECB, no padding). */
export function aes(key: Uint8Array, block: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-128-ecb', key, null);
  cipher.setAutoPadding(false);
  return new Uint8Array(cipher.update(block));
}

export function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((v, i) => v ^ b[i]!);
}

/** `message` cut into random parts of 0..39 bytes; with `insertEmpty`, sometimes one more empty part. */
export function splitRandomly(message: Uint8Array, insertEmpty = false): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let offset = 0;
  while (offset < message.length) {
    const length = Math.min(message.length - offset, Math.floor(Math.random() * 40));
    parts.push(message.subarray(offset, offset + length));
    offset += length;
  }
  if (insertEmpty && Math.random() < 0.5)
    parts.splice(Math.floor(Math.random() * (parts.length + 1)), 0, new Uint8Array(0));
  return parts;
}

/** Random keys and lengths (edge lengths, 60 random ones, one over the scratch buffer), split randomly. */
export function assertMatchesReference(
  create: (key: Uint8Array) => BlockMac,
  reference: (key: Uint8Array, message: Uint8Array) => Uint8Array,
  insertEmpty: boolean,
): void {
  const lengths = [0, 1, 15, 16, 17, 31, 32, 33, 48, 64, 100, 255, 256, 1400, 1500, 4096];
  for (let i = 0; i < 60; i++) lengths.push(Math.floor(Math.random() * 600));
  lengths.push(70_000); // larger than the retained scratch buffer
  for (let round = 0; round < 4; round++) {
    const key = randomBytes(16);
    const mac = create(key);
    for (const length of lengths) {
      const message = randomBytes(length);
      const want = hex(reference(key, message));
      assert.equal(
        hex(mac.compute(splitRandomly(message, insertEmpty))),
        want,
        `key ${hex(key)} length ${length}`,
      );
    }
    mac.dispose();
  }
}

/** One instance, other messages in between: the same tag, a new array, the input untouched. */
export function assertIndependentResults(mac: BlockMac, length: number, step: number): void {
  const a = new Uint8Array(randomBytes(length));
  const first = mac.compute([a]);
  for (let i = 0; i < 20; i++) mac.compute([randomBytes(i * step)]);
  const again = mac.compute([a]);
  assert.deepEqual(again, first);
  assert.notEqual(again, first, 'a new array each time');
  const copy = Uint8Array.from(a);
  mac.compute([a, a]);
  assert.deepEqual(a, copy, 'input not modified');
  mac.dispose();
}

/** Every way a MAC object can be shown: none may contain key bytes. */
export function views(mac: object): string[] {
  return [
    inspect(mac, { showHidden: true, depth: Number.POSITIVE_INFINITY, getters: true }),
    JSON.stringify(mac),
    String(mac),
    JSON.stringify(Object.getOwnPropertyNames(mac)),
  ];
}
