/**
 * Cross-backend interop (GitHub issue 6, point 5): a userspace-backend IpSecManager on the HOST
 * and a kernel-backend IpSecManager in the kernel-peer GUEST (Debian kernel with ESP, the host's
 * Node.js chrooted, test/helpers/kernel_peer/guest_kernel_backend_interop.ts) exchange UDP through
 * ESP-in-UDP (RFC 3948) both ways, for every algorithm Android offers (`IpSecAlgorithm`), with and
 * without ESN (RFC 4303 §2.2.1). Both ends use the public API only; one guest process serves all
 * cases over a line protocol on a TCP connection from the guest to the host (10.0.2.2 → 127.0.0.1).
 *
 * Addresses: the host's transforms run 127.0.0.1 ↔ 127.0.0.1 (its encapsulation socket sends to
 * the port qemu forwards to the guest's 4501); the guest's run 10.0.2.2 ↔ 10.0.2.15. Each case:
 * three datagrams host → guest app, each echoed back by the guest app; the echoes must arrive
 * intact, and both sides' transform states must show exactly three packets each way.
 *
 * @requires root (qemu and the kernel-peer image)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import {
  IpSecAlgorithm,
  type IpSecDatagramSocket,
  IpSecManager,
  IpSecTransform,
  type IpSecTransformBuilder,
} from '../../src/ipsec/mod.ts';
import type { GuestExecResult } from '../helpers/kernel_peer.ts';
import { KernelPeer } from '../helpers/kernel_peer.ts';

const REPO = join(import.meta.dirname, '../..');
const GUEST_PROGRAM = join(REPO, 'test/helpers/kernel_peer/guest_kernel_backend_interop.ts');
/**
 * Set by test/interop/ipsec_service_interop.test.ts before it imports this file: the guest end is
 * then an unprivileged app of the IPsec service (a root daemon in the guest), and the cases are
 * AES-GCM and AES-CBC + HMAC-SHA256, with and without ESN.
 */
const VIA_SERVICE = process.env.TSNETD_INTEROP_VIA_SERVICE === '1';
const SERVICE_WRAPPER = join(REPO, 'test/helpers/kernel_peer/guest_ipsec_service_interop.ts');
const LOOPBACK = '127.0.0.1';
/** Must match the guest program. */
const GUEST_ENCAP_PORT = 4501;
const GUEST_APP_PORT = 5001;
const DATAGRAMS = 3;
const STEP_TIMEOUT_MS = 20_000;
const FILE_TIMEOUT_MS = 200_000;

interface Alg {
  readonly name: string;
  readonly keyBytes: number;
  readonly bits: number;
}
interface InteropCase {
  readonly label: string;
  readonly encryption?: Alg;
  readonly authentication?: Alg;
  readonly aead?: Alg;
}

const A = IpSecAlgorithm;
const cbc = (bytes: number): Alg => ({ name: A.CRYPT_AES_CBC, keyBytes: bytes, bits: 0 });
const ctr = (bytes: number): Alg => ({ name: A.CRYPT_AES_CTR, keyBytes: bytes + 4, bits: 0 });
const auth = (name: string, keyBytes: number, bits: number): Alg => ({ name, keyBytes, bits });
const gcm = (bytes: number, icv: number): Alg => ({
  name: A.AUTH_CRYPT_AES_GCM,
  keyBytes: bytes + 4,
  bits: icv,
});

/** Every algorithm Android's IpSecAlgorithm offers, each key size class at least once. */
const ALGORITHM_CASES: readonly InteropCase[] = [
  {
    label: 'AES-CBC-128 + HMAC-MD5-96',
    encryption: cbc(16),
    authentication: auth(A.AUTH_HMAC_MD5, 16, 96),
  },
  {
    label: 'AES-CBC-128 + HMAC-SHA1-96',
    encryption: cbc(16),
    authentication: auth(A.AUTH_HMAC_SHA1, 20, 96),
  },
  {
    label: 'AES-CBC-256 + HMAC-SHA256-128',
    encryption: cbc(32),
    authentication: auth(A.AUTH_HMAC_SHA256, 32, 128),
  },
  {
    label: 'AES-CBC-256 + HMAC-SHA384-192',
    encryption: cbc(32),
    authentication: auth(A.AUTH_HMAC_SHA384, 48, 192),
  },
  {
    label: 'AES-CBC-256 + HMAC-SHA512-256',
    encryption: cbc(32),
    authentication: auth(A.AUTH_HMAC_SHA512, 64, 256),
  },
  {
    label: 'AES-CTR-128 + HMAC-SHA256-128',
    encryption: ctr(16),
    authentication: auth(A.AUTH_HMAC_SHA256, 32, 128),
  },
  {
    label: 'AES-CTR-256 + HMAC-SHA512-256',
    encryption: ctr(32),
    authentication: auth(A.AUTH_HMAC_SHA512, 64, 256),
  },
  {
    label: 'AES-CBC-128 + AES-XCBC-96',
    encryption: cbc(16),
    authentication: auth(A.AUTH_AES_XCBC, 16, 96),
  },
  {
    label: 'AES-CTR-128 + AES-CMAC-96',
    encryption: ctr(16),
    authentication: auth(A.AUTH_AES_CMAC, 16, 96),
  },
  { label: 'AES-GCM-128 ICV 64', aead: gcm(16, 64) },
  { label: 'AES-GCM-128 ICV 96', aead: gcm(16, 96) },
  { label: 'AES-GCM-128 ICV 128', aead: gcm(16, 128) },
  { label: 'AES-GCM-256 ICV 64', aead: gcm(32, 64) },
  { label: 'AES-GCM-256 ICV 96', aead: gcm(32, 96) },
  { label: 'AES-GCM-256 ICV 128', aead: gcm(32, 128) },
  {
    label: 'ChaCha20-Poly1305',
    aead: { name: A.AUTH_CRYPT_CHACHA20_POLY1305, keyBytes: 36, bits: 128 },
  },
  {
    label: 'HMAC-SHA256-128 only (null cipher)',
    authentication: auth(A.AUTH_HMAC_SHA256, 32, 128),
  },
];

/** Line-protocol client of the guest program (one TCP connection from the guest). */
class GuestControl {
  readonly #socket: Socket;
  readonly #replies: AsyncIterator<string>;
  constructor(socket: Socket) {
    this.#socket = socket;
    this.#replies = createInterface({ input: socket })[Symbol.asyncIterator]();
  }
  async request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.#socket.write(`${JSON.stringify(message)}\n`);
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([
      this.#replies.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`guest did not answer ${String(message.op)} in time`)),
          STEP_TIMEOUT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    if (next.done === true) throw new Error('the guest program closed the control connection');
    const reply = JSON.parse(next.value) as Record<string, unknown>;
    if (typeof reply.error === 'string') throw new Error(`guest: ${reply.error}`);
    return reply;
  }
  close(): void {
    this.#socket.destroy();
  }
}

let peer: KernelPeer;
let control: GuestControl;
let guestRun: Promise<GuestExecResult>;
let forwardedPort: number;
const controlServer = createServer();

before(async () => {
  peer = await KernelPeer.start({ hostRoot: true, forwardUdpPorts: [GUEST_ENCAP_PORT] });
  forwardedPort = peer.udpForwards.get(GUEST_ENCAP_PORT) ?? 0;
  controlServer.listen(0, LOOPBACK);
  await once(controlServer, 'listening');
  const { port } = controlServer.address() as { port: number };
  const connected = once(controlServer, 'connection') as Promise<[Socket]>;
  guestRun = peer.hostExec(
    [
      process.execPath,
      '--import',
      'tsx',
      VIA_SERVICE ? SERVICE_WRAPPER : GUEST_PROGRAM,
      String(port),
    ],
    { cwd: REPO, timeoutMs: FILE_TIMEOUT_MS },
  );
  const [socket] = await Promise.race([
    connected,
    guestRun.then((r) => {
      throw new Error(`the guest program exited ${r.code} early\n${r.stdout}\n${r.stderr}`);
    }),
  ]);
  control = new GuestControl(socket);
});

after(async () => {
  try {
    control?.request({ op: 'quit' }).catch(() => undefined);
    await Promise.race([guestRun, new Promise((r) => setTimeout(r, 10_000))]);
  } finally {
    control?.close();
    controlServer.close();
    await peer?.stop();
  }
});

function wireAlgorithms(
  c: InteropCase,
): Record<string, { name: string; key: string; bits: number }> {
  const out: Record<string, { name: string; key: string; bits: number }> = {};
  for (const kind of ['encryption', 'authentication', 'aead'] as const) {
    const a = c[kind];
    if (a !== undefined)
      out[kind] = { name: a.name, key: randomBytes(a.keyBytes).toString('hex'), bits: a.bits };
  }
  return out;
}

function configure(
  b: IpSecTransformBuilder,
  wire: Record<string, { name: string; key: string; bits: number }>,
): IpSecTransformBuilder {
  const alg = (w: { name: string; key: string; bits: number }): IpSecAlgorithm =>
    new IpSecAlgorithm(w.name, Buffer.from(w.key, 'hex'), w.bits);
  if (wire.aead !== undefined) b.setAuthenticatedEncryption(alg(wire.aead));
  if (wire.encryption !== undefined) b.setEncryption(alg(wire.encryption));
  if (wire.authentication !== undefined) b.setAuthentication(alg(wire.authentication));
  return b;
}

/** Resolves the next datagram on `socket`, or rejects after the step timeout. */
function nextMessage(socket: IpSecDatagramSocket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      reject(new Error('no echo from the guest in time'));
    }, STEP_TIMEOUT_MS);
    const onMessage = (msg: Buffer): void => {
      clearTimeout(timer);
      resolve(msg);
    };
    socket.once('message', onMessage);
  });
}

let spiBase = 0x5000;

async function runCase(c: InteropCase, esn: boolean): Promise<void> {
  const wire = wireAlgorithms(c);
  const spiToGuest = spiBase++;
  const spiToHost = spiBase++;
  await using ipsec = await IpSecManager.create({ esn, keepaliveIntervalMs: 0 });
  await using encap = await ipsec.openUdpEncapsulationSocket();
  await control.request({
    op: 'case',
    esn,
    algorithms: wire,
    spiIn: spiToGuest,
    spiOut: spiToHost,
    hostEncapPort: encap.getPort(),
  });
  try {
    await using spiOut = await ipsec.allocateSecurityParameterIndex(LOOPBACK, spiToGuest);
    await using spiIn = await ipsec.allocateSecurityParameterIndex(LOOPBACK, spiToHost);
    await using outbound = await configure(new IpSecTransform.Builder(ipsec), wire)
      .setIpv4Encapsulation(encap, forwardedPort)
      .buildTransportModeTransform(LOOPBACK, spiOut);
    await using inbound = await configure(new IpSecTransform.Builder(ipsec), wire)
      .setIpv4Encapsulation(encap, forwardedPort)
      .buildTransportModeTransform(LOOPBACK, spiIn);
    await using socket = ipsec.createDatagramSocket('udp4');
    await socket.bind(0, LOOPBACK);
    await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, outbound);
    await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_IN, inbound);
    for (let i = 0; i < DATAGRAMS; i++) {
      const payload = Buffer.concat([Buffer.from(`${c.label} esn=${esn} #${i} `), randomBytes(64)]);
      const echo = nextMessage(socket);
      await socket.send(payload, GUEST_APP_PORT, LOOPBACK);
      assert.deepEqual(await echo, Buffer.concat([Buffer.from('echo:'), payload]));
    }
    const guest = (await control.request({ op: 'state' })) as Record<
      'in' | 'out',
      Record<'tx' | 'rx' | 'packets', string>
    >;
    const n = String(DATAGRAMS);
    assert.equal(guest.in.rx, n, 'guest kernel inbound SA highest sequence number');
    assert.equal(guest.in.packets, n, 'guest kernel inbound SA packet count');
    assert.equal(guest.out.tx, n, 'guest kernel outbound SA sequence number');
    assert.equal(guest.out.packets, n, 'guest kernel outbound SA packet count');
    const hostOut = await outbound.requestIpSecTransformState();
    const hostIn = await inbound.requestIpSecTransformState();
    assert.equal(hostOut.txHighestSequenceNumber, BigInt(DATAGRAMS));
    assert.equal(hostIn.rxHighestSequenceNumber, BigInt(DATAGRAMS));
    assert.deepEqual(
      Object.entries(ipsec.getStatistics()).filter(([k, v]) => k.startsWith('drop.') && v > 0),
      [],
      'the userspace backend dropped packets',
    );
  } finally {
    await control.request({ op: 'end' });
  }
}

const SERVICE_CASES = new Set(['AES-CBC-256 + HMAC-SHA256-128', 'AES-GCM-256 ICV 128']);

test(
  VIA_SERVICE
    ? 'userspace backend (host) ↔ IPsec service backend (guest, unprivileged app): GCM and CBC+HMAC, with and without ESN'
    : 'userspace backend (host) ↔ kernel backend (guest): every Android algorithm, with and without ESN',
  { timeout: FILE_TIMEOUT_MS },
  async (t) => {
    for (const c of ALGORITHM_CASES.filter((a) => !VIA_SERVICE || SERVICE_CASES.has(a.label))) {
      for (const esn of [false, true]) {
        await t.test(`${c.label}${esn ? ' with ESN' : ''}`, () => runCase(c, esn));
      }
    }
  },
);
