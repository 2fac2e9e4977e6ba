/**
 * Runs INSIDE the kernel-peer guest (Debian kernel with ESP), started by
 * test/interop/kernel_backend_parity.test.ts through `KernelPeer.hostExec`: the kernel backend's
 * parity with the userspace backend where the review found gaps (docs/ipsec.md "Input checks and
 * resource hygiene"): protection from the moment apply is called, `MessageTooLongError` before the
 * kernel sees an oversized datagram, fail closed after `transform.close()` (UDP and TCP, checked
 * with an AF_PACKET capture on `lo`), nothing of the backend left in the kernel after `close()`
 * while another owner's SA stays, and SAs surviving a SIGKILLed process. Not a `*.test.ts` file.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type {
  Backend,
  BackendDatagramSocket,
  BackendSa,
  TransformDirection,
} from '../../../src/ipsec/backend.ts';
import {
  IpSecManager,
  IpSecTransform,
  KernelBackend,
  TransformClosedError,
} from '../../../src/ipsec/mod.ts';
import { flushOwnedSas, NetlinkSocket } from '../../../src/xfrm/mod.ts';
import { type Family, gcm, LO, LO6, plainSocket } from '../../ipsec/_fixtures.ts';
import {
  assertLargestClearThenTooLong,
  assertLargestProtectedThenTooLong,
  cbcHmac,
  largestProtectedPayload,
  MAX_UDP,
  OVERSIZE_CASES,
} from '../../ipsec/_oversize.ts';
import { nextMessage } from '../../ipsec/_suite.ts';

const MOD_URL = new URL('../../../src/ipsec/mod.ts', import.meta.url).href;
/** Per guest test: a stuck case fails by name instead of stalling the whole run. */
const TEST_TIMEOUT_MS = 60_000;
const { DIRECTION_IN: IN, DIRECTION_OUT: OUT } = IpSecManager;

/** The kernel backend with `applyToSocket`/`removeFromSocket` held while `hold()` is in force. */
function gatedKernelBackend(inner: KernelBackend): Backend & {
  hold(): void;
  release(): void;
} {
  let gate: Promise<void> = Promise.resolve();
  let open = (): void => undefined;
  return {
    name: inner.name,
    hold() {
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
    },
    release() {
      open();
    },
    reserveSpi: (d, s) => inner.reserveSpi(d, s),
    releaseSpi: (d, s) => inner.releaseSpi(d, s),
    createSa: (c) => inner.createSa(c),
    deleteSa: (sa) => inner.deleteSa(sa),
    openEncapSocket: (o) => inner.openEncapSocket(o),
    createDatagramSocket: (t) => inner.createDatagramSocket(t),
    async applyToSocket(s: BackendDatagramSocket, d: TransformDirection, sa: BackendSa) {
      await gate;
      return inner.applyToSocket(s, d, sa);
    },
    async removeFromSocket(s: BackendDatagramSocket) {
      await gate;
      return inner.removeFromSocket(s);
    },
    getTransformState: (sa) => inner.getTransformState(sa),
    statistics: () => inner.statistics(),
    close: () => inner.close(),
  };
}

/** A kernel backend and a manager on it, both closed after `body`. */
async function withKernel(body: (ipsec: IpSecManager) => Promise<void>): Promise<void> {
  const backend = await KernelBackend.create();
  try {
    await using ipsec = await IpSecManager.create({ backend, keepaliveIntervalMs: 0 });
    await body(ipsec);
  } finally {
    await backend.close();
  }
}

/** As `withKernel`, on a gated kernel backend released (even on failure) before it closes. */
async function withGatedKernel(
  body: (backend: ReturnType<typeof gatedKernelBackend>, ipsec: IpSecManager) => Promise<void>,
): Promise<void> {
  const backend = gatedKernelBackend(await KernelBackend.create());
  try {
    await using ipsec = await IpSecManager.create({ backend, keepaliveIntervalMs: 0 });
    await body(backend, ipsec);
  } finally {
    backend.release();
    await backend.close();
  }
}

/** A loopback transform, ESP-in-UDP (`encap`) or plain ESP. */
async function loopbackTransform(
  ipsec: IpSecManager,
  family: Family = 'IPv4',
  configure = gcm(),
  encap = true,
): Promise<IpSecTransform> {
  const address = family === 'IPv4' ? LO : LO6;
  await using spi = await ipsec.allocateSecurityParameterIndex(address);
  const builder = configure(new IpSecTransform.Builder(ipsec));
  if (!encap) return builder.buildTransportModeTransform(address, spi);
  const socket = await ipsec.openUdpEncapsulationSocket(undefined, { family });
  const t = await builder
    .setIpv4Encapsulation(socket, socket.getPort())
    .buildTransportModeTransform(address, spi);
  await socket.close(); // the transform keeps it alive
  return t;
}

function count(emitter: NodeJS.EventEmitter): { readonly n: number } {
  const box = { n: 0 };
  emitter.on('message', () => {
    box.n++;
  });
  return box;
}

/**
 * Captures `lo` with an AF_PACKET socket (Python, no scapy) for `ms` and counts the packets
 * (ICMP errors aside) containing `marker` and the clear-text TCP/UDP packets to or from `port`.
 */
async function capture(
  marker: Buffer,
  port: number,
  body: () => Promise<void>,
  ms = 1500,
): Promise<{ marker: number; clear: number; total: number }> {
  const script = `
import socket, sys, time, json, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(('lo', 0)); s.settimeout(0.05)
marker = bytes.fromhex(sys.argv[1]); port = int(sys.argv[2])
print('ready', flush=True)
end = time.time() + float(sys.argv[3]); m = c = t = 0
while time.time() < end:
    try: f, a = s.recvfrom(70000)
    except socket.timeout: continue
    if a[2] == socket.PACKET_OUTGOING: continue
    t += 1
    et = struct.unpack('!H', f[12:14])[0]
    if et == 0x0800: proto, off = f[23], 14 + (f[14] & 15) * 4
    elif et == 0x86dd: proto, off = f[20], 54
    else: continue
    # ICMP errors quote the packet they answer (port unreachable for the witness): not traffic.
    if proto not in (1, 58) and marker in f: m += 1
    if proto in (6, 17) and port in struct.unpack('!HH', f[off:off + 4]): c += 1
print(json.dumps({'marker': m, 'clear': c, 'total': t}), flush=True)
`;
  const child = spawn(
    '/usr/bin/python3',
    ['-c', script, marker.toString('hex'), String(port), String(ms / 1000 + 1)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8');
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (s: string) => {
      out += s;
      if (out.includes('ready')) resolve();
    });
  });
  await ready;
  await body();
  await once(child, 'exit');
  const line = out.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line !== undefined, `capture printed nothing: ${out}`);
  return JSON.parse(line) as { marker: number; clear: number; total: number };
}

/** A guest test on a gated kernel backend's manager with a loopback transform `t`. */
function gatedKernelTest(
  name: string,
  body: (
    backend: ReturnType<typeof gatedKernelBackend>,
    ipsec: IpSecManager,
    t: IpSecTransform,
  ) => Promise<void>,
): void {
  test(name, { timeout: TEST_TIMEOUT_MS }, async () => {
    await withGatedKernel(async (backend, ipsec) => {
      await using t = await loopbackTransform(ipsec);
      await body(backend, ipsec, t);
    });
  });
}

// --- 1. Protection from the moment apply is called ---------------------------------------------

gatedKernelTest(
  'kernel: clear text arriving while an inbound apply is pending is dropped',
  async (backend, ipsec, t) => {
    await using rx = ipsec.createDatagramSocket('udp4');
    const { port } = await rx.bind(0, LO);
    const got = count(rx);
    await using plain = await plainSocket();
    backend.hold();
    const applying = ipsec.applyTransportModeTransform(rx, IN, t);
    for (let i = 0; i < 5; i++) plain.send(`clear ${i}`, port, LO);
    await delay(300); // read by libuv while the apply is pending
    backend.release();
    await applying;
    plain.send('clear after', port, LO);
    await delay(300);
    assert.equal(got.n, 0, 'clear text was delivered after apply(IN) was called');
  },
);

test(
  'kernel: a rekey apply(IN) pending does not drop ESP of the installed inbound SA',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    await withGatedKernel(async (backend, ipsec) => {
      await using old = await loopbackTransform(ipsec);
      await using next = await loopbackTransform(ipsec);
      await using rx = ipsec.createDatagramSocket('udp4');
      const { port } = await rx.bind(0, LO);
      await ipsec.applyTransportModeTransform(rx, IN, old);
      await using tx = ipsec.createDatagramSocket('udp4');
      await ipsec.applyTransportModeTransform(tx, OUT, old);
      backend.hold();
      const applying = ipsec.applyTransportModeTransform(rx, IN, next);
      const got = nextMessage(rx, 2000);
      await tx.send('protected', port, LO);
      assert.equal(String((await got)?.message), 'protected');
      backend.release();
      await applying;
    });
  },
);

gatedKernelTest(
  'kernel: a send() issued right after an unawaited apply(OUT) leaves as ESP',
  async (backend, ipsec, t) => {
    await using rx = ipsec.createDatagramSocket('udp4');
    const { port } = await rx.bind(0, LO);
    await ipsec.applyTransportModeTransform(rx, IN, t);
    await using tx = ipsec.createDatagramSocket('udp4');
    await tx.bind(0, LO);
    const marker = randomBytes(16);
    const seen = await capture(marker, port, async () => {
      backend.hold();
      const applying = ipsec.applyTransportModeTransform(tx, OUT, t);
      const got = nextMessage(rx, 3000);
      const sending = tx.send(marker, port, LO);
      await delay(100);
      backend.release();
      await applying;
      await sending;
      assert.ok((await got)?.message.equals(marker), 'not received');
    });
    assert.deepEqual([seen.marker, seen.clear], [0, 0], JSON.stringify(seen));
    const state = await t.requestIpSecTransformState();
    assert.equal(state.txHighestSequenceNumber, 1n, 'the kernel SA did not send it');
    assert.equal(state.rxHighestSequenceNumber, 1n);
  },
);

// --- 2. Oversized datagrams: MessageTooLongError before the kernel ------------------------------

for (const family of ['IPv4', 'IPv6'] as const) {
  const address = family === 'IPv4' ? LO : LO6;
  const type = family === 'IPv4' ? 'udp4' : 'udp6';
  for (const encap of [true, false]) {
    for (const c of OVERSIZE_CASES) {
      test(
        `kernel ${family} ${encap ? 'ESP-in-UDP' : 'plain ESP'} ${c.name}: the largest payload arrives intact, one byte more throws MessageTooLongError`,
        { timeout: TEST_TIMEOUT_MS },
        async () => {
          // ESP-in-UDP: the ESP packet fits one UDP datagram; plain ESP: 8 bytes more (no UDP header).
          const outer = MAX_UDP[family] + (encap ? 0 : 8);
          const max = largestProtectedPayload(outer, c.iv, c.block, c.icv);
          await withKernel(async (ipsec) => {
            await using t = await loopbackTransform(ipsec, family, c.configure(), encap);
            await assertLargestProtectedThenTooLong(ipsec, t, type, address, max, 5000);
          });
        },
      );
    }
  }
  test(
    `kernel ${family} clear text: ${MAX_UDP[family]} bytes arrive, one more throws MessageTooLongError`,
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const max = MAX_UDP[family];
      await withKernel(async (ipsec) => {
        await assertLargestClearThenTooLong(ipsec, type, address, max, 5000);
      });
    },
  );
}

// --- 3. Fail closed after transform.close(); nothing left after close() ------------------------

test(
  'kernel UDP: after transform.close() nothing is sent or received in clear text',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    await withKernel(async (ipsec) => {
      const t = await loopbackTransform(ipsec);
      await using rx = ipsec.createDatagramSocket('udp4');
      const { port } = await rx.bind(0, LO);
      await using tx = ipsec.createDatagramSocket('udp4');
      await ipsec.applyTransportModeTransform(rx, IN, t);
      await ipsec.applyTransportModeTransform(tx, OUT, t);
      const got = nextMessage(rx, 3000);
      await tx.send('before', port, LO);
      assert.equal(String((await got)?.message), 'before');
      await t.close();
      const received = count(rx);
      await using plain = await plainSocket();
      const marker = randomBytes(16);
      const seen = await capture(marker, port, async () => {
        await assert.rejects(tx.send(marker, port, LO), TransformClosedError);
        plain.send(marker, port, LO); // clear text towards the protected socket: the kernel drops it
        await delay(300);
      });
      assert.equal(seen.marker, 1, `only the plain socket's datagram: ${JSON.stringify(seen)}`);
      assert.equal(received.n, 0, 'clear text was delivered after transform.close()');
      const iterator = rx[Symbol.asyncIterator]();
      await assert.rejects(iterator.next(), TransformClosedError);
    });
  },
);

async function accepted(server: Server): Promise<Socket> {
  const [socket] = (await once(server, 'connection')) as [Socket];
  return socket;
}

test(
  'kernel TCP: after transform.close() no segment leaves or is accepted in clear text',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const backend = await KernelBackend.create();
    const cleanup: (() => void)[] = [];
    try {
      await using ipsec = await IpSecManager.create({ backend, keepaliveIntervalMs: 0 });
      const toServer = await loopbackTransform(ipsec, 'IPv4', gcm(), false);
      const toClient = await loopbackTransform(ipsec, 'IPv4', cbcHmac(), false);
      const server = createServer();
      server.listen(0, LO);
      await once(server, 'listening');
      const address = server.address();
      assert.ok(address !== null && typeof address === 'object');
      await ipsec.applyTransportModeTransform(server, IN, toServer);
      await ipsec.applyTransportModeTransform(server, OUT, toClient);
      const client = new Socket();
      cleanup.push(() => client.destroy());
      cleanup.push(() => server.close());
      await ipsec.applyTransportModeTransform(client, OUT, toServer);
      await ipsec.applyTransportModeTransform(client, IN, toClient);
      const serverSide = accepted(server);
      client.connect(address.port, LO);
      await once(client, 'connect');
      const peer = await serverSide;
      cleanup.push(() => peer.destroy());
      let bytes = 0;
      peer.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      client.on('error', () => undefined);
      peer.on('error', () => undefined);
      client.write('protected');
      for (let i = 0; i < 50 && bytes < 9; i++) await delay(20);
      assert.equal(bytes, 9, 'the protected write did not arrive');
      await toServer.close();
      await toClient.close();
      const marker = randomBytes(16);
      await using witness = await plainSocket();
      const seen = await capture(marker, address.port, async () => {
        client.write(marker); // OUT policy without SA: the kernel drops it, retransmits too
        peer.write(marker);
        // The capture's witness: one clear UDP datagram with the marker to the same port number.
        witness.send(marker, address.port, LO);
        await delay(1000);
      });
      assert.deepEqual(
        [seen.marker, seen.clear],
        [1, 1],
        `only the witness: ${JSON.stringify(seen)}`,
      );
      assert.equal(bytes, 9, 'data arrived after transform.close()');
    } finally {
      for (const f of cleanup) f();
      await backend.close();
    }
  },
);

interface GuestSa {
  readonly spi: number;
  readonly reqid: number;
  readonly dst: string;
}

/** Every SA of the namespace, from an XFRM dump. */
async function listSas(): Promise<GuestSa[]> {
  const out = execFileSync('/sbin/ip', ['-o', 'xfrm', 'state'], { encoding: 'utf8' });
  const sas: GuestSa[] = [];
  for (const line of out.split('\n')) {
    const m = /dst (\S+)\s.*?proto esp spi (0x[0-9a-f]+) reqid (\d+)/.exec(line);
    // SPI 0: an acquire state a refused ALLOCSPI leaves; it only expires (flush_owned_sas.ts).
    if (m?.[1] !== undefined && m[2] !== undefined && m[3] !== undefined && Number(m[2]) !== 0) {
      sas.push({ dst: m[1], spi: Number(m[2]), reqid: Number(m[3]) });
    }
  }
  return sas;
}

const OTHER_SPI = 0x7e57_0001;
const OTHER_REQID = 4242;

function addOtherOwnersSa(): void {
  execFileSync('/sbin/ip', [
    ...['xfrm', 'state', 'add', 'src', LO, 'dst', LO, 'proto', 'esp'],
    ...['spi', String(OTHER_SPI), 'reqid', String(OTHER_REQID), 'mode', 'transport'],
    ...['aead', 'rfc4106(gcm(aes))', `0x${randomBytes(20).toString('hex')}`, '128'],
  ]);
}

function deleteOtherOwnersSa(): void {
  execFileSync('/sbin/ip', [
    ...['xfrm', 'state', 'delete', 'src', LO, 'dst', LO, 'proto', 'esp'],
    ...['spi', String(OTHER_SPI)],
  ]);
}

test(
  'kernel: manager.close() and backend.close() leave no SA or reservation; another owner keeps its SA',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    addOtherOwnersSa();
    try {
      const before = await listSas();
      const backend = await KernelBackend.create();
      const ipsec = await IpSecManager.create({ backend, keepaliveIntervalMs: 0 });
      for (const family of ['IPv4', 'IPv6'] as const) {
        const t = await loopbackTransform(ipsec, family);
        const s = ipsec.createDatagramSocket(family === 'IPv4' ? 'udp4' : 'udp6');
        await s.bind(0, family === 'IPv4' ? LO : LO6);
        await ipsec.applyTransportModeTransform(s, OUT, t);
        await ipsec.applyTransportModeTransform(s, IN, t);
      }
      const reserved = await ipsec.allocateSecurityParameterIndex(LO); // larval, never used
      const during = await listSas();
      assert.ok(
        during.some((sa) => sa.spi === reserved.getSpi()),
        'no larval state for the SPI',
      );
      assert.ok(during.length >= before.length + 3, JSON.stringify(during));
      await ipsec.close();
      const afterManager = await listSas();
      assert.deepEqual(afterManager, before, 'manager.close() left SAs behind');
      await backend.close();
      assert.deepEqual(await listSas(), before);
      assert.ok(before.some((sa) => sa.spi === OTHER_SPI && sa.reqid === OTHER_REQID));
    } finally {
      deleteOtherOwnersSa();
    }
  },
);

test(
  'kernel: backend.close() with sockets, SAs and reservations left open removes all of them',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const before = await listSas();
    const backend = await KernelBackend.create();
    const ipsec = await IpSecManager.create({ backend, keepaliveIntervalMs: 0 });
    const t = await loopbackTransform(ipsec);
    const s = ipsec.createDatagramSocket('udp4');
    await s.bind(0, LO);
    await ipsec.applyTransportModeTransform(s, IN, t);
    await ipsec.allocateSecurityParameterIndex(LO);
    assert.ok((await listSas()).length >= before.length + 2);
    await backend.close(); // the manager is never closed
    assert.deepEqual(await listSas(), before, 'backend.close() left SAs behind');
  },
);

// --- 4. Crash safety --------------------------------------------------------------------------

test(
  'kernel: SAs of a SIGKILLed process stay in the kernel; flushOwnedSas removes exactly them',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    addOtherOwnersSa();
    try {
      const before = await listSas();
      const program = `
      import { IpSecAlgorithm, IpSecManager, IpSecTransform } from '${MOD_URL}';
      const ipsec = await IpSecManager.create({ backend: 'kernel', keepaliveIntervalMs: 0 });
      const spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
      await new IpSecTransform.Builder(ipsec)
        .setAuthenticatedEncryption(new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, new Uint8Array(20), 128))
        .buildTransportModeTransform('127.0.0.1', spi);
      await ipsec.allocateSecurityParameterIndex('127.0.0.1');
      console.log('ready');
      setInterval(() => undefined, 1000);
    `;
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', program],
        {
          cwd: process.cwd(),
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      child.stdout.setEncoding('utf8');
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (s: string) => {
          if (s.includes('ready')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
      });
      child.kill('SIGKILL');
      await once(child, 'exit');
      const left = (await listSas()).filter(
        (sa) => !before.some((b) => b.spi === sa.spi && b.dst === sa.dst),
      );
      assert.equal(left.length, 2, `the SA and the reservation survive: ${JSON.stringify(left)}`);
      const reqids = new Set(left.map((sa) => sa.reqid));
      const netlink = NetlinkSocket.open();
      try {
        for (const reqid of reqids) await flushOwnedSas(netlink, { reqid });
      } finally {
        netlink.close();
      }
      assert.deepEqual(await listSas(), before, 'flushOwnedSas left SAs or removed others');
    } finally {
      deleteOtherOwnersSa();
    }
  },
);
