/**
 * The ndc client: request encoding, and the ndc executable's output and exit codes
 * (netd's FrameworkListener protocol) against real Unix sockets.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeCommand, quoteArgument, sendCommand } from '../../src/netd/client.ts';
import { ProtocolSession } from '../../src/netd/protocol/session.ts';
import { tokenize } from '../../src/netd/protocol/tokenize.ts';
import { ndc, tempDir } from './helpers/netns.ts';

test('encodeCommand() prepends sequence number 0 unless the first word starts with a digit', () => {
  assert.equal(encodeCommand(['network', 'create', 'oem1']), '0 network create oem1');
  assert.equal(encodeCommand(['12', 'ipfwd', 'status']), '12 ipfwd status');
});

test('quoteArgument() output tokenizes back to the original argument', () => {
  for (const arg of ['plain', 'with space', '', 'q"uote', 'back\\slash', ' " \\ ', 'a  b']) {
    const result = tokenize(`0 x ${quoteArgument(arg)}`, 0);
    assert.deepEqual(result, { ok: true, seq: 0, argv: ['x', arg] }, JSON.stringify(arg));
  }
});

test('ndc exits 4 with "Error connecting" when the daemon is unreachable', async () => {
  const dir = tempDir();
  try {
    const r = await ndc(join(dir.path, 'absent'), ['ipfwd', 'status']);
    assert.deepEqual(r, {
      code: 4,
      stdout: '',
      stderr: 'Error connecting (No such file or directory)\n',
    });
  } finally {
    dir.remove();
  }
});

test('ndc without a command prints usage and exits 1', async () => {
  const r = await ndc('/nonexistent', []);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Usage: ndc /);
});

test('ndc prints intermediate lines, stops at the first final one, and reports a lost connection', async () => {
  const dir = tempDir();
  const path = join(dir.path, 'sock');
  // A server speaking the protocol: 6xx broadcast and 1xx before the final reply for
  // "chatty"; closes without a reply for "hangup".
  const server = createServer((socket) => {
    const session = new ProtocolSession(async (argv) => {
      if (argv[0] === 'hangup') {
        socket.destroy();
        return [];
      }
      return [
        { code: 100, message: 'first' },
        { code: 200, message: 'done' },
        { code: 200, message: 'never printed' },
      ];
    });
    socket.write('600 Iface added oem0\0');
    socket.on('data', async (chunk) => {
      for (const frame of session.push(chunk)) {
        for (const line of await session.handle(frame))
          if (!socket.destroyed) socket.write(`${line}\0`);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const chatty = await ndc(path, ['chatty', 'a b']);
    assert.deepEqual(chatty, {
      code: 0,
      stdout: '600 Iface added oem0\n100 0 first\n200 0 done\n',
      stderr: '',
    });
    const lines = await sendCommand(path, ['chatty']);
    assert.deepEqual(lines, ['600 Iface added oem0', '100 0 first', '200 0 done']);
    const hangup = await ndc(path, ['hangup']);
    assert.deepEqual(hangup, {
      code: 104,
      stdout: '600 Iface added oem0\n',
      stderr: 'Lost connection to Netd - did it crash?\n',
    });
  } finally {
    await new Promise((r) => server.close(r));
    dir.remove();
  }
});
