/**
 * Per-socket XFRM policies and UDP_ENCAP on real dgram sockets, in a scratch namespace. `ip xfrm
 * policy` lists socket policies as "socket out/in"; getsockopt cannot read them back
 * (ENOPROTOOPT); the effect is observed too: an OUT policy whose SA does not exist makes sendto fail with EAGAIN;
 * an IN policy makes the kernel drop cleartext (XfrmInTmplMismatch); removal restores cleartext.
 *
 * @requires root (network namespaces, IP_XFRM_POLICY)
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { before, test } from 'node:test';
import { socketFd } from '../../src/xfrm/sockopt.ts';
import { runInNetns } from '../fixtures/xfrm/run_in_netns.ts';

let r: Record<string, unknown>;
before(async () => {
  r = (await runInNetns('sockopt.ts')) as Record<string, unknown>;
});

test('socketFd() refuses an unbound dgram socket', () => {
  assert.equal(r.fdBeforeBind, 'ERR_SYS_SOCKET_FD_UNAVAILABLE');
  const s = dgram.createSocket('udp4');
  assert.throws(() => socketFd(s), { name: 'SocketFdUnavailableError' });
  s.close();
  assert.throws(() => socketFd(-1), { name: 'SocketFdUnavailableError' });
});

test('socketFd() returns the descriptor of a bound dgram socket without deprecation warnings', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  assert.ok(socketFd(s) > 2);
  s.close();
  await new Promise((res) => setImmediate(res));
  process.off('warning', onWarning);
  assert.deepEqual(warnings, []);
});

test('socketFamily() reads SO_DOMAIN', () => {
  assert.deepEqual(r.families, [2, 10]);
});

test('applySocketPolicy() OUT without an SA blocks the socket (EAGAIN); ip lists it as a socket policy', () => {
  assert.equal(r.clear, 'sent');
  assert.equal(r.receivedClear, 1);
  // Dumps include per-socket policies, shown with direction "socket out" (`nosock` hides them).
  assert.match(String(r.spdAfterApply), /socket out priority 0 ptype main flag localok/);
  assert.match(String(r.spdAfterApply), /proto esp spi 0x00001234 reqid 1 mode transport/);
  assert.deepEqual(r.sendWithOutPolicy, ['errno 11', 'errno 11']);
  assert.equal(r.getsockopt, 92); // ENOPROTOOPT: the kernel has no getsockopt for policies
});

test('removeSocketPolicies() (NULL, 0) makes the socket send cleartext again', () => {
  assert.equal(r.sendAfterRemove, 'sent');
  assert.equal(r.receivedAfterRemove, 2);
});

test('applySocketPolicy() IN drops cleartext datagrams until removed', () => {
  assert.equal(r.sendToInPolicy, 'sent');
  assert.equal(r.receivedWithInPolicy, 2);
  assert.equal(r.tmplMismatchDelta, 1);
  assert.equal(r.sendAfterInRemove, 'sent');
  assert.equal(r.receivedAfterInRemove, 3);
});

test('applySocketPolicy() reports a malformed policy with the errno', () => {
  assert.equal(r.badPolicy, 'EINVAL');
});

test('setUdpEncapsulation() sets UDP_ENCAP_ESPINUDP and getUdpEncapsulation() reads it back', () => {
  assert.equal(r.encapBefore, 0);
  assert.equal(r.encapAfter, 2);
});
