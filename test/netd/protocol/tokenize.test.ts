import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CMD_ARGS_MAX, tokenize } from '../../../src/netd/protocol/tokenize.ts';

test('tokenize() splits on unquoted spaces and takes the first token as sequence number', () => {
  assert.deepEqual(tokenize('7 network create oem1', 0), {
    ok: true,
    seq: 7,
    argv: ['network', 'create', 'oem1'],
  });
});

test('tokenize() keeps empty arguments from consecutive spaces', () => {
  assert.deepEqual(tokenize('1 a  b ', 0), { ok: true, seq: 1, argv: ['a', '', 'b', ''] });
});

test('tokenize() removes quotes, keeps quoted spaces and handles the two escapes', () => {
  assert.deepEqual(tokenize('2 "a b" c"d e"f \\"x\\" \\\\', 0), {
    ok: true,
    seq: 2,
    argv: ['a b', 'cd ef', '"x"', '\\'],
  });
});

test('tokenize() parses the sequence number like C strtol base 0', () => {
  assert.equal(tokenize('0x1f a', 0).seq, 31);
  assert.equal(tokenize('017 a', 0).seq, 15);
  assert.equal(tokenize('-3 a', 0).seq, -3);
  assert.equal(tokenize(' a', 5).seq, 0, 'an empty sequence number is 0');
  assert.equal(tokenize('4294967297 a', 0).seq, 1, '(int) truncation');
  assert.equal(tokenize('99999999999999999999 a', 0).seq, -1, 'LONG_MAX truncated to int');
});

test('tokenize() rejects a non-numeric sequence number and keeps the previous one', () => {
  assert.deepEqual(tokenize('1x a', 9), { ok: false, seq: 9, message: 'Invalid sequence number' });
  assert.deepEqual(tokenize('08 a', 9), { ok: false, seq: 9, message: 'Invalid sequence number' });
  assert.deepEqual(tokenize('0x a', 9), { ok: false, seq: 9, message: 'Invalid sequence number' });
});

test('tokenize() without any unquoted space has no sequence number: the token is argv[0]', () => {
  assert.deepEqual(tokenize('12', 4), { ok: true, seq: 4, argv: ['12'] });
  assert.deepEqual(tokenize('', 4), { ok: true, seq: 4, argv: [''] });
});

test('tokenize() reports unsupported escapes at once, with the new sequence number', () => {
  assert.deepEqual(tokenize('3 a\\n "', 0), {
    ok: false,
    seq: 3,
    message: 'Unsupported escape sequence',
  });
  assert.deepEqual(tokenize('3\\n a', 1), {
    ok: false,
    seq: 1,
    message: 'Unsupported escape sequence',
  });
});

test('tokenize() reports unclosed quotes', () => {
  assert.deepEqual(tokenize('3 "a', 0), { ok: false, seq: 3, message: 'Unclosed quotes error' });
});

test('tokenize() accepts CMD_ARGS_MAX arguments and refuses one more', () => {
  const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');
  const ok = tokenize(`1 ${words(CMD_ARGS_MAX)}`, 0);
  assert.equal(ok.ok && ok.argv.length, 26);
  assert.deepEqual(tokenize(`1 ${words(CMD_ARGS_MAX + 1)}`, 0), {
    ok: false,
    seq: 1,
    message: 'Command too long',
  });
  assert.deepEqual(tokenize(`1 ${words(CMD_ARGS_MAX)} `, 0), {
    ok: false,
    seq: 1,
    message: 'Command too long',
  });
});

test('tokenize() refuses a token longer than 1023 bytes', () => {
  assert.deepEqual(tokenize(`1 ${'a'.repeat(1024)}`, 0), {
    ok: false,
    seq: 1,
    message: 'Command too long',
  });
  const ok = tokenize(`1 ${'a'.repeat(1023)}`, 0);
  assert.equal(ok.ok, true);
});
