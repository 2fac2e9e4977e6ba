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
 * - `tcp-server` / `tcp-client` SOCKET SELF PEER [PORT]: TCP over transport mode between two
 *   devices (each app applies its own transforms both ways); the client prints `TCP ok …`.
 * - `quota`: allocates SPIs until the daemon refuses; prints `QUOTA <count> <error name>` and waits.
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, Socket as NetSocket } from 'node:net';
import {
  IpSecAlgorithm,
  IpSecManager,
  IpSecTransform,
  type IpSecTransformBuilder,
} from '../../../src/ipsec/mod.ts';
import {
  encodeFrame,
  type Frame,
  FrameReader,
  KIND_REQUEST,
  Op,
} from '../../../src/ipsec/service/wire.ts';
import {
  closeDescriptor,
  connectUnixStream,
  receiveWithDescriptors,
  sendWithDescriptors,
} from '../../../src/sys/descriptor_passing.ts';
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
} else if (role === 'hostile') {
  // Speaks the wire protocol by hand: thousands of reservations, malformed frames, wrong
  // descriptors, a flood of connections, a connection that never reads. Prints `HOSTILE …`.
  const out: string[] = [];
  const hello = (id: number) => encodeFrame(KIND_REQUEST, Op.hello, id, {});
  const open = (): number => {
    const fd = connectUnixStream(path ?? '');
    return fd;
  };
  const replies = async (fd: number, count: number): Promise<Frame[] | 'eof'> => {
    const reader = new FrameReader();
    const frames: Frame[] = [];
    const deadline = Date.now() + 20_000;
    while (frames.length < count && Date.now() < deadline) {
      const r = receiveWithDescriptors(fd, 65536);
      if (r === 'eof') return 'eof';
      if (r === 'again') {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      for (const d of r.descriptors) closeDescriptor(d);
      frames.push(...reader.push(r.data));
    }
    return frames;
  };
  // 1. 2000 reservations, 16 in flight at a time: exactly the UID's 64 succeed
  const flood = open();
  let granted = 0;
  let refused = 0;
  for (let i = 0; i < 2000; i += 16) {
    for (let j = 0; j < 16; j++) {
      sendWithDescriptors(
        flood,
        encodeFrame(KIND_REQUEST, Op.reserveSpi, i + j + 1, {
          destination: '127.0.0.1',
          spi: 0x40000 + i + j,
        }),
      );
    }
    const got = await replies(flood, 16);
    if (got === 'eof') throw new Error('the daemon cut the reservation flood');
    for (const f of got) {
      if (typeof f.json.id === 'number') granted++;
      else refused++;
    }
  }
  out.push(`granted=${granted}`, `refused=${refused}`);
  // 2. malformed frames and wrong descriptors, each on its own connection
  const cut = async (name: string, bytes: Uint8Array, fds: number[] = []): Promise<void> => {
    const fd = open();
    sendWithDescriptors(fd, bytes, fds);
    const r = await replies(fd, 1);
    out.push(
      `${name}=${r === 'eof' ? 'cut' : `answered:${JSON.stringify(r[0]?.json.error ?? r[0]?.json)}`}`,
    );
    closeDescriptor(fd);
  };
  await cut('garbage', new Uint8Array(64).fill(0xee));
  await cut('badfield', encodeFrame(KIND_REQUEST, Op.reserveSpi, 1, { destination: 7, spi: -1 }));
  const pipeFd = 0; // stdin: /dev/null, not a socket
  const unix = createServer();
  const unixPath = `/tmp/tsnetd-hostile-${process.pid}`;
  await new Promise<void>((resolve) => unix.listen(unixPath, resolve));
  const kind = async (name: string, fd: number): Promise<void> => {
    const c = open();
    sendWithDescriptors(
      c,
      encodeFrame(KIND_REQUEST, Op.apply, 1, { id: 1, direction: 1 }, undefined, 1),
      [fd],
    );
    const r = await replies(c, 1);
    const e = r === 'eof' ? undefined : (r[0]?.json.error as { name?: string } | undefined);
    out.push(`${name}=${r === 'eof' ? 'cut' : (e?.name ?? 'ok')}`);
    closeDescriptor(c);
  };
  await kind('pipe', pipeFd);
  await kind('unixsocket', socketFd(unix));
  unix.close();
  // 3. a flood of connections: at most 64 per UID are kept
  const many: number[] = [];
  for (let i = 0; i < 100; i++) many.push(open());
  await new Promise((resolve) => setTimeout(resolve, 500));
  let served = 0;
  for (const fd of many) {
    try {
      sendWithDescriptors(fd, hello(1));
    } catch {
      continue;
    }
    const r = await replies(fd, 1);
    if (r !== 'eof' && r.length === 1) served++;
  }
  out.push(`served=${served}`);
  for (const fd of many) closeDescriptor(fd);
  // 4. never reading: hellos until the daemon cuts the connection
  const deaf = open();
  let deafCut = false;
  for (let i = 0; i < 50_000 && !deafCut; i++) {
    try {
      if (sendWithDescriptors(deaf, hello(i)) < 0) await new Promise((r) => setTimeout(r, 2));
    } catch {
      deafCut = true;
    }
    if (i % 1000 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  out.push(`deaf=${deafCut ? 'cut' : 'kept'}`);
  process.stdout.write(`HOSTILE ${out.join(' ')}\n`);
  process.exit(0);
} else if (role === 'tcp-server' || role === 'tcp-client') {
  // TCP over transport mode between two devices (network namespaces, one daemon each):
  // argv: SOCKET SELF PEER [PORT]. C→S is AES-GCM (SPI 0x2001), S→C AES-CBC + HMAC-SHA256 (0x2002).
  const [self, peer, portText] = process.argv.slice(4);
  const gcm = () =>
    new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, new Uint8Array(20).fill(0x11), 128);
  const cbc = (b: IpSecTransformBuilder) =>
    b
      .setEncryption(
        new IpSecAlgorithm(IpSecAlgorithm.CRYPT_AES_CBC, new Uint8Array(16).fill(0x22)),
      )
      .setAuthentication(
        new IpSecAlgorithm(IpSecAlgorithm.AUTH_HMAC_SHA256, new Uint8Array(32).fill(0x33), 128),
      );
  const isServer = role === 'tcp-server';
  // C→S: destination is the server; S→C: destination is the client.
  const cToS = await ipsec.allocateSecurityParameterIndex(
    isServer ? (self ?? '') : (peer ?? ''),
    0x2001,
  );
  const sToC = await ipsec.allocateSecurityParameterIndex(
    isServer ? (peer ?? '') : (self ?? ''),
    0x2002,
  );
  const tCToS = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(gcm())
    .buildTransportModeTransform(isServer ? (peer ?? '') : (self ?? ''), cToS);
  const tSToC = await cbc(new IpSecTransform.Builder(ipsec)).buildTransportModeTransform(
    isServer ? (self ?? '') : (peer ?? ''),
    sToC,
  );
  const inbound = isServer ? tCToS : tSToC;
  const outbound = isServer ? tSToC : tCToS;
  const payload = Buffer.alloc(32 * 1024, 0x61);
  if (isServer) {
    const server = createServer((conn) => {
      const chunks: Buffer[] = [];
      conn.on('data', (d: Buffer) => {
        chunks.push(d);
        if (Buffer.concat(chunks).length >= payload.length) {
          conn.end(Buffer.concat([Buffer.from('pong:'), Buffer.concat(chunks)]));
        }
      });
      conn.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, self, resolve));
    await ipsec.applyTransportModeTransform(server, IpSecManager.DIRECTION_IN, inbound);
    await ipsec.applyTransportModeTransform(server, IpSecManager.DIRECTION_OUT, outbound);
    process.stdout.write(`LISTENING ${(server.address() as { port: number }).port}\n`);
  } else {
    const socket = new NetSocket();
    await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, outbound);
    await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_IN, inbound);
    const chunks: Buffer[] = [];
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.once('end', () => resolve());
      socket.once('error', reject);
      setTimeout(() => reject(new Error('TCP exchange timed out')), 60_000);
    });
    socket.connect(Number(portText), peer ?? '', () => socket.write(payload));
    await done;
    const reply = Buffer.concat(chunks);
    const ok = reply.equals(Buffer.concat([Buffer.from('pong:'), payload]));
    const out = await outbound.requestIpSecTransformState();
    const inn = await inbound.requestIpSecTransformState();
    process.stdout.write(
      `TCP ${ok ? 'ok' : 'wrong'} out=${out.packetCount > 0n ? 'esp' : 'none'} in=${inn.packetCount > 0n ? 'esp' : 'none'}\n`,
    );
  }
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
