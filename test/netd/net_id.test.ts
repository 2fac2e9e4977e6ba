import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cStrtol, cStrtoul } from '../../src/netd/c_number.ts';
import { netHandleToNetId, netIdToNetHandle, stringToNetId } from '../../src/netd/net_id.ts';

test('stringToNetId() maps oemN to N + 1 for 1..50 and to 0 otherwise', () => {
  assert.equal(stringToNetId('oem1'), 2);
  assert.equal(stringToNetId('oem49'), 50);
  assert.equal(stringToNetId('oem50'), 51);
  assert.equal(stringToNetId('oem0'), 0);
  assert.equal(stringToNetId('oem51'), 0);
  assert.equal(stringToNetId('oem0x10'), 17, 'base 0: hex');
  assert.equal(stringToNetId('oem010'), 9, 'base 0: octal');
  assert.equal(stringToNetId('oem4294967297'), 2, 'unsigned (32-bit) truncation');
  assert.equal(stringToNetId('oem'), 0);
  assert.equal(
    stringToNetId('oem1abc'),
    2,
    'trailing garbage ignored, as strtoul without end check',
  );
});

test('stringToNetId() maps handles with the Android 9+ magic to their netId in 1..50', () => {
  assert.equal(stringToNetId('handle11995631629'), 2);
  assert.equal(stringToNetId('handle46355369997'), 10);
  assert.equal(stringToNetId('handle42966108894'), 0, 'Android 8 magic 0xfacade is not accepted');
  assert.equal(stringToNetId(`handle${netIdToNetHandle(51)}`), 0, 'out of the OEM range');
  assert.equal(stringToNetId('handle0'), 0);
  assert.equal(stringToNetId('handle0x2cafed00d'), 0, 'handles are decimal');
});

test('stringToNetId() parses other words with strtoul base 0', () => {
  assert.equal(stringToNetId('local'), 99);
  assert.equal(stringToNetId('100'), 100);
  assert.equal(stringToNetId('0x64'), 100);
  assert.equal(stringToNetId('0144'), 100);
  assert.equal(stringToNetId('  +100'), 100);
  assert.equal(stringToNetId('-1'), 0xffffffff);
  assert.equal(stringToNetId('wlan0'), 0);
  assert.equal(stringToNetId('4294967396'), 100);
});

test('netHandleToNetId() and netIdToNetHandle() are inverse for valid ids', () => {
  for (const id of [1, 2, 30, 50]) assert.equal(netHandleToNetId(netIdToNetHandle(id)), id);
});

test('cStrtoul() and cStrtol() follow C on edge cases', () => {
  assert.deepEqual(cStrtoul('0x', 0), { value: 0n, end: 1 });
  assert.deepEqual(cStrtoul('xyz', 0), { value: 0n, end: 0 });
  assert.deepEqual(cStrtoul('99999999999999999999999', 10), { value: (1n << 64n) - 1n, end: 23 });
  assert.deepEqual(cStrtol('-99999999999999999999999', 0), { value: -(1n << 63n), end: 24 });
  assert.deepEqual(cStrtol('\t12 ', 0), { value: 12n, end: 3 });
});
