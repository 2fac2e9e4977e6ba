/**
 * The `netutils` verb's request encoding (src/netutils/remote.ts) against the daemon's own
 * tokenizer (src/netd/protocol/tokenize.ts): long argument lists are packed into requests that
 * each fit netd's 1024-byte limit, and every argument — quotes, backslashes, spaces, UTF-8 —
 * comes out of the tokenizer exactly as it went in. An argument too long for one request is
 * refused before anything is sent; a malformed request in the middle of a command means the
 * daemon runs nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NetutilsService } from '../../src/netd/netutils_service.ts';
import { CMD_BUF_SIZE, tokenize } from '../../src/netd/protocol/tokenize.ts';
import { NetdServer } from '../../src/netd/server.ts';
import { remoteRunRequests } from '../../src/netutils/remote.ts';
import { NetutilsPolicy } from '../../src/netutils/settings.ts';
import { Conn } from './helpers/conn.ts';

function decode(frames: readonly string[]): { args: string[]; tool: string } {
  const args: string[] = [];
  let tool = '';
  for (const frame of frames) {
    assert.ok(frame.length + 1 <= CMD_BUF_SIZE, `frame of ${frame.length + 1} bytes`);
    const t = tokenize(frame, 0);
    assert.ok(t.ok, JSON.stringify(t));
    assert.equal(t.argv[0], 'netutils');
    if (t.argv[1] === 'arg')
      args.push(...t.argv.slice(2).map((a) => Buffer.from(a, 'latin1').toString('utf8')));
    else tool = t.argv[2] ?? '';
  }
  return { args, tool };
}

test('argument lists up to the check bounds round-trip through the daemon tokenizer', () => {
  const alphabet = ['a', '"', '\\', 'ü', '€', '$', '`', ';', '-', '0'];
  const args = Array.from({ length: 120 }, (_, i) =>
    Array.from({ length: 1 + ((i * 7) % 31) }, (_, k) => alphabet[(i + k) % alphabet.length]).join(
      '',
    ),
  );
  args.push('', 'a b', 'x'.repeat(900));
  const frames = remoteRunRequests('iptables', args);
  assert.ok(frames !== undefined);
  assert.ok(frames.length > 3, 'several arg requests');
  assert.deepEqual(decode(frames), { args, tool: 'iptables' });
});

test('no arguments: just the run request; an argument too long for one request: refused', () => {
  assert.deepEqual(remoteRunRequests('ip', []), ['0 netutils run ip']);
  assert.equal(remoteRunRequests('ip', ['x'.repeat(1009)]), undefined);
  assert.equal(remoteRunRequests('ip', ['"'.repeat(600)]), undefined, 'escaping counts');
  assert.ok(remoteRunRequests('ip', ['x'.repeat(1008)]) !== undefined);
});

test('a malformed request while a command is being built means nothing runs (521)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnetd-nuproto-'));
  const socketPath = join(dir, 'netd');
  const netutils = new NetutilsService({
    policy: await NetutilsPolicy.load({ configPath: join(dir, 'none.json'), explicit: false }),
  });
  const server = await NetdServer.listen({ socketPath, execute: async () => [], netutils });
  try {
    const c = await Conn.open(socketPath);
    c.write('0 netutils arg "unclosed\0' + '0 netutils arg xfrm state\0' + '0 netutils run ip\0');
    assert.deepEqual(await c.waitLines(2), [
      '500 0 Unclosed quotes error',
      '521 0 Cannot run: a request of this command was malformed',
    ]);
    c.write(`0 netutils arg ${'x'.repeat(1100)}\0` + '0 netutils run ip\0');
    assert.deepEqual((await c.waitLines(4)).slice(2), [
      '500 0 Command too large for buffer',
      '521 0 Cannot run: a request of this command was malformed',
    ]);
    c.close();
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
