/**
 * Binding an encapsulation socket, one procedure for both backends (sys/udp_socket.ts): the
 * family's wildcard address, IPv6-only for IPv6, a busy port → `UdpBindError` with
 * `errnoName: 'EADDRINUSE'`, and nothing left open after a failure. Through the IpSecManager the
 * busy port is `ResourceUnavailableError` with the message both backends share.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { IpSecManager, ResourceUnavailableError } from '../../src/ipsec/mod.ts';
import { bindWildcardUdpSocket, UdpBindError } from '../../src/sys/mod.ts';

test('IPv4 binds 0.0.0.0 and IPv6 binds :: without taking the IPv4 port', async () => {
  const v6 = await bindWildcardUdpSocket('IPv6', 0);
  try {
    assert.equal(v6.address().address, '::');
    const port = v6.address().port;
    // ipv6Only: the same port is still free over IPv4.
    const v4 = await bindWildcardUdpSocket('IPv4', port);
    assert.equal(v4.address().address, '0.0.0.0');
    assert.equal(v4.address().port, port);
    await new Promise<void>((resolve) => v4.close(() => resolve()));
  } finally {
    await new Promise<void>((resolve) => v6.close(() => resolve()));
  }
});

test('a busy port fails with UdpBindError EADDRINUSE and leaves no socket behind', async () => {
  const holder = createSocket('udp4');
  holder.bind(0, '0.0.0.0');
  await once(holder, 'listening');
  const port = holder.address().port;
  try {
    // The handle goes away shortly after its close callback: poll, bounded.
    const udpHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap');
    for (let i = 0; i < 50 && udpHandles().length > 1; i++) await sleep(10);
    const before = udpHandles().length; // the holder (and nothing else of this file)
    await assert.rejects(bindWildcardUdpSocket('IPv4', port), (err: unknown) => {
      assert.ok(err instanceof UdpBindError, String(err));
      assert.equal(err.errnoName, 'EADDRINUSE');
      assert.equal(err.code, 'ERR_SYS_UDP_BIND');
      assert.equal(err.message, `Cannot bind UDP port ${port}: the port is already in use`);
      return true;
    });
    for (let i = 0; i < 50 && udpHandles().length > before; i++) await sleep(10);
    assert.equal(udpHandles().length, before);
  } finally {
    holder.close();
  }
});

test('the manager reports a busy encapsulation port as ResourceUnavailableError', async () => {
  await using ipsec = await IpSecManager.create();
  await using first = await ipsec.openUdpEncapsulationSocket();
  await assert.rejects(ipsec.openUdpEncapsulationSocket(first.getPort()), (err: unknown) => {
    assert.ok(err instanceof ResourceUnavailableError, String(err));
    assert.equal(
      err.message,
      `Cannot open UDP encapsulation socket on port ${first.getPort()}: the port is already in use`,
    );
    return true;
  });
});
