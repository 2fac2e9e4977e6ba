/** RFC 4303 §2.4 padding: minimal length, default pattern, check. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDefaultPadding, paddingLength, writePadding } from '../../src/esp/padding.ts';

test('paddingLength() is minimal and aligns payload + trailer to max(block size, 4)', () => {
  for (const blockSize of [1, 4, 8, 16]) {
    const align = Math.max(blockSize, 4);
    for (let n = 0; n < 100; n++) {
      const pad = paddingLength(n, blockSize);
      assert.ok(pad >= 0 && pad < align);
      assert.equal((n + pad + 2) % align, 0, `n=${n} block=${blockSize}`);
    }
  }
  assert.equal(paddingLength(2, 1), 0);
  assert.equal(paddingLength(5, 1), 1);
  assert.equal(paddingLength(50, 16), 12);
  assert.equal(paddingLength(14, 16), 0);
});

test('writePadding() writes 1, 2, 3, … and isDefaultPadding() accepts exactly that', () => {
  const buf = new Uint8Array(20).fill(0xee);
  writePadding(buf, 3, 15);
  assert.deepEqual(
    [...buf.subarray(3, 18)],
    Array.from({ length: 15 }, (_, i) => i + 1),
  );
  assert.equal(buf[2], 0xee);
  assert.equal(buf[18], 0xee);
  assert.ok(isDefaultPadding(buf, 3, 15));
  assert.ok(isDefaultPadding(buf, 0, 0));
  for (let i = 3; i < 18; i++) {
    const bad = Uint8Array.from(buf);
    bad[i]! ^= 0x10;
    assert.equal(isDefaultPadding(bad, 3, 15), false, `byte ${i}`);
  }
  const p255 = new Uint8Array(255);
  writePadding(p255, 0, 255);
  assert.equal(p255[254], 255);
  assert.ok(isDefaultPadding(p255, 0, 255));
});
