/**
 * An application of the IPsec service, run INSIDE the guest as an unprivileged user by
 * guest_ipsec_service.ts: `node --import tsx guest_ipsec_service_client.ts ROLE SOCKET`.
 *
 * - `hold`: reserves an SPI, builds an AES-GCM transform (plain ESP on 127.0.0.1), applies it to
 *   a UDP socket both ways, checks one datagram goes through, prints `READY <spi>` and waits to
 *   be killed (the daemon must then release everything within a second).
 * - `late`: builds a transform `LATE_MS` after reserving its SPI; prints `LATE <datagram>`.
 * - `overloads`: the dgram.Socket and raw-descriptor overloads, and the refusals; prints
 *   `OVERLOADS name=outcome …`.
 * - `quota`: allocates SPIs until the daemon refuses; prints `QUOTA <count> <error name>` and waits.
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { IpSecAlgorithm, IpSecManager, IpSecTransform } from '../../../src/ipsec/mod.ts';
import { socketFd } from '../../../src/sys/socket_fd.ts';

const [role, path] = process.argv.slice(2);
const ipsec = await IpSecManager.create({ backend: 'service', servicePath: path ?? '' });

if (role === 'hold') {
  const spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
  const transform = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(
      new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, new Uint8Array(20).fill(7), 128),
    )
    .buildTransportModeTransform('127.0.0.1', spi);
  const socket = ipsec.createDatagramSocket('udp4');
  const { port } = await socket.bind(0, '127.0.0.1');
  await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, transform);
  await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_IN, transform);
  const got = once(socket, 'message');
  await socket.send('through the kernel', port, '127.0.0.1');
  const [message] = await got;
  const state = await transform.requestIpSecTransformState();
  process.stdout.write(
    `READY 0x${spi.getSpi().toString(16).padStart(8, '0')} ${String(message)} tx=${state.txHighestSequenceNumber}\n`,
  );
} else if (role === 'late') {
  // Builds the transform LATE_MS after the SPI was reserved (past net.core.xfrm_acq_expires).
  const spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.LATE_MS ?? '0')));
  const transform = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(
      new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, new Uint8Array(20).fill(9), 128),
    )
    .buildTransportModeTransform('127.0.0.1', spi);
  const socket = ipsec.createDatagramSocket('udp4');
  const { port } = await socket.bind(0, '127.0.0.1');
  await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, transform);
  await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_IN, transform);
  const got = once(socket, 'message');
  await socket.send('late but protected', port, '127.0.0.1');
  const [message] = await got;
  process.stdout.write(`LATE ${String(message)}\n`);
} else if (role === 'overloads') {
  // Android's three apply overloads with a socket of this process, and refusals of descriptors
  // that are not ours (fd 3: a UDP socket created by root and inherited) or not UDP/TCP.
  const results: string[] = [];
  const spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
  const transform = await new IpSecTransform.Builder(ipsec)
    .setEncryption(new IpSecAlgorithm(IpSecAlgorithm.CRYPT_AES_CBC, new Uint8Array(32).fill(3)))
    .setAuthentication(
      new IpSecAlgorithm(IpSecAlgorithm.AUTH_HMAC_SHA256, new Uint8Array(32).fill(4), 128),
    )
    .buildTransportModeTransform('127.0.0.1', spi);
  const outcome = async (name: string, body: () => Promise<unknown>): Promise<void> => {
    try {
      await body();
      results.push(`${name}=ok`);
    } catch (err: unknown) {
      results.push(`${name}=${err instanceof Error ? err.name : String(err)}`);
    }
  };
  // a plain dgram.Socket, and a raw descriptor number (its twin), talk to each other
  const plain = createSocket('udp4');
  const twin = createSocket('udp4');
  await new Promise<void>((resolve) => plain.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => twin.bind(0, '127.0.0.1', resolve));
  await outcome('dgram', async () => {
    await ipsec.applyTransportModeTransform(plain, IpSecManager.DIRECTION_OUT, transform);
    await ipsec.applyTransportModeTransform(plain, IpSecManager.DIRECTION_IN, transform);
  });
  await outcome('fd', async () => {
    const fd = socketFd(twin);
    await ipsec.applyTransportModeTransform(fd, IpSecManager.DIRECTION_OUT, transform);
    await ipsec.applyTransportModeTransform(fd, IpSecManager.DIRECTION_IN, transform);
  });
  await outcome('exchange', async () => {
    const got = once(twin, 'message');
    plain.send('via dgram', twin.address().port, '127.0.0.1');
    const [m] = await got;
    if (String(m) !== 'via dgram') throw new Error('wrong datagram');
    const state = await transform.requestIpSecTransformState();
    if (state.txHighestSequenceNumber < 1n) throw new Error('not protected');
  });
  await outcome('foreign', () =>
    ipsec.applyTransportModeTransform(3, IpSecManager.DIRECTION_OUT, transform),
  );
  await outcome('pipe', () =>
    ipsec.applyTransportModeTransform(0, IpSecManager.DIRECTION_OUT, transform),
  );
  const unix = createServer();
  const unixPath = `/tmp/tsnetd-unix-${process.pid}`;
  await new Promise<void>((resolve) => unix.listen(unixPath, resolve));
  await outcome('unix', () =>
    ipsec.applyTransportModeTransform(socketFd(unix), IpSecManager.DIRECTION_OUT, transform),
  );
  unix.close();
  await outcome('remove', () => ipsec.removeTransportModeTransforms(plain));
  process.stdout.write(`OVERLOADS ${results.join(' ')}\n`);
} else if (role === 'quota') {
  let count = 0;
  let error = 'none';
  try {
    for (let i = 0; i < 1000; i++) {
      await ipsec.allocateSecurityParameterIndex('127.0.0.1');
      count++;
    }
  } catch (err: unknown) {
    error = err instanceof Error ? err.name : String(err);
  }
  process.stdout.write(`QUOTA ${count} ${error}\n`);
}
setInterval(() => undefined, 60_000);
