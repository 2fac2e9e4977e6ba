/**
 * Interop of the ESP engine (src/esp) with the Linux kernel's ESP (net/ipv4/esp4.c) booted under
 * qemu (test/helpers/kernel_peer.ts): transport mode, ESP-in-UDP (RFC 3948), UDP in both
 * directions for every algorithm family, with and without ESN (RFC 4303 §2.2.1, crossing 2^32),
 * and the anti-replay window (RFC 4303 §3.4.3) on both sides.
 *
 * Our side is a real dgram socket on 127.0.0.1: it seals an inner UDP datagram (guest view:
 * 10.0.2.2:40001 → 10.0.2.15:<app port>) and sends it to the port qemu forwards to the guest's
 * UDP 4500; the kernel decrypts and delivers it to an echo socket, whose reply the kernel seals
 * with its outbound SA and sends to our socket, where EspInboundSa opens it.
 *
 * @requires root (qemu and the kernel-peer image)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { buildUdpDatagram, parseUdpDatagram } from '../../src/esp/ip_packet.ts';
import {
  ESP_NEXT_HEADER,
  EspInboundSa,
  type EspInboundSaOptions,
  EspOutboundSa,
} from '../../src/esp/mod.ts';
import { GUEST_ADDRESS, HOST_ADDRESS_IN_GUEST, KernelPeer } from '../helpers/kernel_peer.ts';

const GUEST_ADDR_BYTES = new Uint8Array([10, 0, 2, 15]);
const HOST_ADDR_BYTES = new Uint8Array([10, 0, 2, 2]);
/** Inner source port of our datagrams (the guest app echoes to 10.0.2.2:INNER_HOST_PORT). */
const INNER_HOST_PORT = 40001;
const REPLAY_WINDOW = 64;
const ROUNDS = 4;
/** ESN cases start both sides here so the 4 rounds cross from seq-hi 0 to seq-hi 1. */
const ESN_START = 0xfffffffen;
const REPLY_TIMEOUT_MS = 5_000;
const BOOT_TIMEOUT_MS = 120_000;
const CASE_TIMEOUT_MS = 60_000;

type Algorithms = Pick<EspInboundSaOptions, 'aead' | 'cipher' | 'auth'>;

interface AlgorithmCase {
  readonly label: string;
  /** Fresh random keys, as engine options and as `ip xfrm state` ALGO-LIST arguments. */
  make(): { readonly engine: Algorithms; readonly kernel: readonly string[] };
}

const hex = (bytes: Uint8Array): string => `0x${Buffer.from(bytes).toString('hex')}`;

function aead(
  name: 'rfc4106(gcm(aes))' | 'rfc7539esp(chacha20,poly1305)',
  keyLength: number,
  icvBits: number,
): AlgorithmCase {
  return {
    label: `${name} ${keyLength * 8}-bit key, ${icvBits}-bit ICV`,
    make() {
      const key = randomBytes(keyLength + 4); // key ‖ salt
      return {
        engine: { aead: { name, key, icvLengthBits: icvBits } },
        kernel: ['aead', name, hex(key), String(icvBits)],
      };
    },
  };
}

function cipherAuth(
  cipher: 'cbc(aes)' | 'rfc3686(ctr(aes))',
  cipherKeyLength: number,
  auth:
    | 'hmac(md5)'
    | 'hmac(sha1)'
    | 'hmac(sha256)'
    | 'hmac(sha384)'
    | 'hmac(sha512)'
    | 'xcbc(aes)'
    | 'cmac(aes)',
  authKeyLength: number,
  truncBits: number,
): AlgorithmCase {
  return {
    label: `${cipher} ${cipherKeyLength * 8}-bit + ${auth}-${truncBits}`,
    make() {
      // CTR: key ‖ nonce(4) (RFC 3686 §5.1), the same layout Linux expects.
      const cipherKey = randomBytes(cipherKeyLength + (cipher === 'rfc3686(ctr(aes))' ? 4 : 0));
      const authKey = randomBytes(authKeyLength);
      return {
        engine: {
          cipher: { name: cipher, key: cipherKey },
          auth: { name: auth, key: authKey, truncationLengthBits: truncBits },
        },
        kernel: [
          'enc',
          cipher,
          hex(cipherKey),
          'auth-trunc',
          auth,
          hex(authKey),
          String(truncBits),
        ],
      };
    },
  };
}

const ALGORITHM_CASES: readonly AlgorithmCase[] = [
  aead('rfc4106(gcm(aes))', 16, 64),
  aead('rfc4106(gcm(aes))', 16, 96),
  aead('rfc4106(gcm(aes))', 16, 128),
  aead('rfc4106(gcm(aes))', 32, 128),
  aead('rfc7539esp(chacha20,poly1305)', 32, 128),
  cipherAuth('cbc(aes)', 16, 'hmac(sha1)', 20, 96),
  cipherAuth('cbc(aes)', 32, 'hmac(sha256)', 32, 128),
  cipherAuth('cbc(aes)', 24, 'hmac(sha512)', 64, 256),
  cipherAuth('cbc(aes)', 16, 'hmac(md5)', 16, 96),
  cipherAuth('rfc3686(ctr(aes))', 16, 'hmac(sha256)', 32, 128),
  cipherAuth('rfc3686(ctr(aes))', 32, 'hmac(sha384)', 48, 192),
  cipherAuth('cbc(aes)', 16, 'xcbc(aes)', 16, 96),
  cipherAuth('rfc3686(ctr(aes))', 16, 'cmac(aes)', 16, 96),
];

/** Host-side ESP-in-UDP endpoint: a dgram socket on 127.0.0.1 with a receive queue. */
class HostEndpoint {
  readonly socket: Socket;
  readonly #queue: Buffer[] = [];
  #waiter: ((m: Buffer) => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('message', (m: Buffer) => {
      const w = this.#waiter;
      if (w === undefined) this.#queue.push(m);
      else {
        this.#waiter = undefined;
        w(m);
      }
    });
  }

  static async open(): Promise<HostEndpoint> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    return new HostEndpoint(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  async send(packet: Uint8Array, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.socket.send(packet, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
    );
  }

  /** Next datagram, or a rejection after `timeoutMs`. */
  next(timeoutMs: number): Promise<Buffer> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`No ESP datagram from the kernel within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }

  /** Datagrams received but not consumed (must be none between steps). */
  pending(): number {
    return this.#queue.length;
  }

  /** Forgets datagrams left over from an earlier (failed) case. */
  drain(): void {
    this.#queue.length = 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

function innerDatagram(dstPort: number, text: string): Uint8Array {
  return buildUdpDatagram({
    srcAddr: HOST_ADDR_BYTES,
    dstAddr: GUEST_ADDR_BYTES,
    srcPort: INNER_HOST_PORT,
    dstPort,
    payload: Buffer.from(text),
  });
}

describe('ESP interop with the Linux kernel (qemu)', () => {
  let peer: KernelPeer;
  let host: HostEndpoint;
  let caseIndex = 0;

  before(
    async () => {
      peer = await KernelPeer.start();
      host = await HostEndpoint.open();
      console.log(
        `kernel peer ${peer.kernelVersion}: image ${peer.image.cached ? 'cached' : 'built'} in ` +
          `${peer.image.buildMs} ms, boot ${peer.bootMs} ms`,
      );
    },
    { timeout: BOOT_TIMEOUT_MS },
  );

  after(async () => {
    await host?.close();
    await peer?.stop();
  });

  /** Runs `body`; on failure prints the guest's XFRM counters and SAs (no keys) and rethrows. */
  async function withDiagnostics(label: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (error: unknown) {
      const stat = await peer.xfrmStatText().catch((e: unknown) => String(e));
      const states = await peer
        .ip('-s', 'xfrm', 'state', 'list', 'nokeys')
        .catch((e: unknown) => String(e));
      console.log(
        `--- ${label}: /proc/net/xfrm_stat\n${stat}\n--- ip -s xfrm state (nokeys)\n${states}`,
      );
      console.log(`--- guest console (tail)\n${peer.consoleLog().slice(-2000)}`);
      throw error;
    }
  }

  /** Installs an SA pair and an outbound policy for `appPort`; returns both engine SAs. */
  async function setUp(algorithms: AlgorithmCase, esn: boolean, appPort: number) {
    caseIndex++;
    const spiIn = 0x10000 + caseIndex * 2; // host → guest (kernel inbound)
    const spiOut = spiIn + 1; // guest → host (kernel outbound)
    const { engine, kernel } = algorithms.make();
    await peer.flushXfrm();
    host.drain();
    const common = {
      algorithms: kernel,
      hostEncapPort: host.port,
      replayWindow: REPLAY_WINDOW,
      esn,
    };
    // The kernel's counters are "highest seen" / "last sent"; ours "highest seen" / "next to send".
    const sequenceNumber = esn ? ESN_START - 1n : 0n;
    await peer.addTransportSa({ ...common, direction: 'in', spi: spiIn, sequenceNumber });
    await peer.addTransportSa({ ...common, direction: 'out', spi: spiOut, sequenceNumber });
    await peer.addOutboundPolicy(appPort);
    await peer.udpOpen(appPort, { echo: true });
    const outbound = new EspOutboundSa({
      spi: spiIn,
      ...engine,
      esn,
      nextSequenceNumber: esn ? ESN_START : 1n,
    });
    const inbound = new EspInboundSa({
      spi: spiOut,
      ...engine,
      esn,
      replayWindowSize: REPLAY_WINDOW,
      highestSequenceNumber: esn ? ESN_START - 1n : 0n,
    });
    return { outbound, inbound, spiIn };
  }

  /** Sends one datagram and checks the kernel's ESP reply; returns it with its sequence number. */
  async function roundTrip(
    outbound: EspOutboundSa,
    inbound: EspInboundSa,
    appPort: number,
    text: string,
  ): Promise<{ packet: Buffer; seq: bigint }> {
    await host.send(
      outbound.seal(innerDatagram(appPort, text), ESP_NEXT_HEADER.UDP),
      peer.hostPort,
    );
    const packet = await host.next(REPLY_TIMEOUT_MS);
    const opened = inbound.open(packet);
    assert.ok(opened.ok, `the kernel's reply did not open: ${opened.ok ? '' : opened.reason}`);
    assert.equal(opened.nextHeader, ESP_NEXT_HEADER.UDP);
    const udp = parseUdpDatagram(opened.payload);
    assert.ok(udp !== undefined, 'the decrypted reply is not a UDP datagram');
    assert.equal(udp.srcPort, appPort);
    assert.equal(udp.dstPort, INNER_HOST_PORT);
    assert.equal(Buffer.from(udp.payload).toString(), text);
    return { packet, seq: opened.seq };
  }

  let appPort = 5000;
  for (const algorithms of ALGORITHM_CASES) {
    for (const esn of [false, true]) {
      const label = `${algorithms.label}${esn ? ', ESN from 2^32-2' : ''}`;
      test(
        `UDP both ways, replays refused both ways: ${label}`,
        { timeout: CASE_TIMEOUT_MS },
        async () => {
          const port = ++appPort;
          await withDiagnostics(label, async () => {
            const { outbound, inbound, spiIn } = await setUp(algorithms, esn, port);
            const firstSeq = esn ? ESN_START : 1n;
            let last: { packet: Buffer; seq: bigint } | undefined;
            for (let round = 0; round < ROUNDS; round++) {
              const text = `round ${round} of ${label}`;
              last = await roundTrip(outbound, inbound, port, text);
              // The kernel's outbound counter runs in step with ours (same start, one reply each).
              assert.equal(last.seq, firstSeq + BigInt(round));
              assert.equal(outbound.lastSequenceNumber, firstSeq + BigInt(round));
            }
            assert.ok(last !== undefined);
            if (esn) assert.equal(last.seq >> 32n, 1n, 'ESN case did not cross 2^32');

            const delivered = await peer.udpRead(port);
            assert.deepEqual(
              delivered.datagrams.map((d) => [d.host, d.port, Buffer.from(d.data).toString()]),
              Array.from({ length: ROUNDS }, (_, r) => [
                HOST_ADDRESS_IN_GUEST,
                INNER_HOST_PORT,
                `round ${r} of ${label}`,
              ]),
            );
            assert.deepEqual(delivered.sendErrors, []);

            // We refuse the kernel's replay (RFC 4303 §3.4.3).
            assert.deepEqual(inbound.open(last.packet), { ok: false, reason: 'replay' });

            // The kernel refuses ours: a packet it accepted, sent again, is dropped; so is one with a
            // flipped ICV bit. The kernel handles datagrams in order, so once the echo of a fresh
            // packet sent after them is back, both have been judged.
            const before = await peer.xfrmStat();
            const original = outbound.seal(innerDatagram(port, 'replayed'), ESP_NEXT_HEADER.UDP);
            await host.send(original, peer.hostPort);
            assert.ok(inbound.open(await host.next(REPLY_TIMEOUT_MS)).ok);
            await host.send(original, peer.hostPort);
            const tampered = outbound.seal(innerDatagram(port, 'tampered'), ESP_NEXT_HEADER.UDP);
            tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 0x01;
            await host.send(tampered, peer.hostPort);
            await roundTrip(outbound, inbound, port, 'fresh after replay and tamper');
            const afterStat = await peer.xfrmStat();
            const delta = (name: string): number =>
              (afterStat.get(name) ?? 0) - (before.get(name) ?? 0);
            assert.equal(delta('XfrmInStateSeqError'), 1, 'replay not counted by the kernel');
            assert.equal(delta('XfrmInStateProtoError'), 1, 'bad ICV not counted by the kernel');
            const state = await peer.ip(
              '-s',
              'xfrm',
              'state',
              'get',
              'src',
              HOST_ADDRESS_IN_GUEST,
              'dst',
              GUEST_ADDRESS,
              'proto',
              'esp',
              'spi',
              String(spiIn),
            );
            assert.match(state, /replay 1 failed 1/);
            const afterReplay = await peer.udpRead(port);
            assert.deepEqual(
              afterReplay.datagrams.map((d) => Buffer.from(d.data).toString()),
              ['replayed', 'fresh after replay and tamper'],
            );
            assert.equal(host.pending(), 0, 'unexpected extra ESP datagrams from the kernel');
            await peer.udpClose(port);
            outbound.dispose();
            inbound.dispose();
          });
        },
      );
    }
  }
});
