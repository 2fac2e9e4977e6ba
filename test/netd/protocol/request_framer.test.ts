import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestFramer } from '../../../src/netd/protocol/request_framer.ts';

const bytes = (s: string) => Buffer.from(s, 'latin1');

test('RequestFramer.push() yields one frame per NUL and keeps the rest for later', () => {
  const f = new RequestFramer();
  assert.deepEqual(f.push(bytes('1 a\u00002 b\u00003 c')), [
    { kind: 'request', text: '1 a' },
    { kind: 'request', text: '2 b' },
  ]);
  assert.deepEqual(f.push(bytes('d\u0000')), [{ kind: 'request', text: '3 cd' }]);
});

test('RequestFramer.push() accepts 1023 bytes plus NUL and rejects 1024 plus NUL once', () => {
  const f = new RequestFramer();
  assert.deepEqual(f.push(bytes(`${'a'.repeat(1023)}\u0000`)), [
    { kind: 'request', text: 'a'.repeat(1023) },
  ]);
  assert.deepEqual(f.push(bytes('b'.repeat(700))), []);
  assert.deepEqual(f.push(bytes('b'.repeat(700))), [{ kind: 'too-large' }]);
  assert.deepEqual(f.push(bytes('b'.repeat(5000))), [], 'still skipping');
  assert.deepEqual(f.push(bytes('c\u00001 ok\u0000')), [{ kind: 'request', text: '1 ok' }]);
  assert.equal(f.bufferedLength, 0);
});

test('RequestFramer.push() frames empty requests', () => {
  assert.deepEqual(new RequestFramer().push(bytes('\u0000\u0000')), [
    { kind: 'request', text: '' },
    { kind: 'request', text: '' },
  ]);
});
