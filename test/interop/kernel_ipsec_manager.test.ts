/**
 * The public IpSecManager API (userspace backend) against the Linux kernel's ESP booted under
 * qemu (test/helpers/kernel_peer.ts): a protected IpSecDatagramSocket and a
 * UdpEncapsulationSocket on the host, kernel SAs and an echo app in the guest; transport mode,
 * ESP-in-UDP (RFC 3948), UDP both ways, with and without ESN, replays refused both ways.
 *
 * A relay socket on 127.0.0.1 sits between the encapsulation socket and qemu's forwarded port so
 * the test can capture ESP packets of either side and send them again (RFC 4303 §3.4.3).
 * The guest app sends with UDP checksum 0 (SO_NO_CHECK): behind qemu's NAT the guest computes
 * the inner checksum over 10.0.2.15 → 10.0.2.2, which the host (127.0.0.1 ↔ 127.0.0.1) cannot
 * verify; the kernel itself skips that check for UDP-encapsulated transport-mode SAs.
 *
 * @requires root (qemu and the kernel-peer image)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import {
  IpSecAlgorithm,
  type IpSecDatagramSocket,
  IpSecManager,
  IpSecTransform,
  type IpSecTransformBuilder,
} from '../../src/ipsec/mod.ts';
import { HOST_ADDRESS_IN_GUEST, KernelPeer } from '../helpers/kernel_peer.ts';

const LOOPBACK = '127.0.0.1';
const REPLAY_WINDOW = 64;
const TIMEOUT_MS = 5_000;
const BOOT_TIMEOUT_MS = 120_000;
const CASE_TIMEOUT_MS = 60_000;

interface ManagerCase {
  readonly label: string;
  readonly esn: boolean;
  /** Fresh random keys: builder configuration and `ip xfrm state` ALGO-LIST arguments. */
  make(): {
    readonly configure: (b: IpSecTransformBuilder) => IpSecTransformBuilder;
    readonly kernel: readonly string[];
  };
}

const hex = (bytes: Uint8Array): string => `0x${Buffer.from(bytes).toString('hex')}`;

const CASES: readonly ManagerCase[] = [
  {
    label: 'AES-GCM-128 (128-bit ICV)',
    esn: false,
    make() {
      const key = randomBytes(20);
      return {
        configure: (b) =>
          b.setAuthenticatedEncryption(
            new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, key, 128),
          ),
        kernel: ['aead', 'rfc4106(gcm(aes))', hex(key), '128'],
      };
    },
  },
  {
    label: 'AES-CBC-256 + HMAC-SHA256-128 with ESN',
    esn: true,
    make() {
      const cipherKey = randomBytes(32);
      const authKey = randomBytes(32);
      return {
        configure: (b) =>
          b
            .setEncryption(new IpSecAlgorithm(IpSecAlgorithm.CRYPT_AES_CBC, cipherKey))
            .setAuthentication(new IpSecAlgorithm(IpSecAlgorithm.AUTH_HMAC_SHA256, authKey, 128)),
        kernel: [
          'enc',
          'cbc(aes)',
          hex(cipherKey),
          'auth-trunc',
          'hmac(sha256)',
          hex(authKey),
          '128',
        ],
      };
    },
  },
  {
    label: 'ChaCha20-Poly1305 with ESN',
    esn: true,
    make() {
      const key = randomBytes(36);
      return {
        configure: (b) =>
          b.setAuthenticatedEncryption(
            new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_CHACHA20_POLY1305, key, 128),
          ),
        kernel: ['aead', 'rfc7539esp(chacha20,poly1305)', hex(key), '128'],
      };
    },
  },
];

/**
 * Forwards ESP-in-UDP between the host's encapsulation socket and qemu's forwarded port, and
 * remembers the last packet of each direction.
 */
class Relay {
  readonly socket: Socket;
  readonly #guestPort: number;
  encapPort = 0;
  lastToGuest: Buffer | undefined;
  lastToHost: Buffer | undefined;

  private constructor(socket: Socket, guestPort: number) {
    this.socket = socket;
    this.#guestPort = guestPort;
    socket.on('message', (msg: Buffer, rinfo) => {
      if (rinfo.port === this.encapPort) {
        this.lastToGuest = msg;
        socket.send(msg, this.#guestPort, LOOPBACK);
      } else {
        this.lastToHost = msg;
        socket.send(msg, this.encapPort, LOOPBACK);
      }
    });
  }

  static async open(guestPort: number): Promise<Relay> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, LOOPBACK, () => resolve());
    });
    return new Relay(socket, guestPort);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends `packet` again, as if the relay had received it once more from its origin. */
  resend(packet: Buffer, to: 'guest' | 'host'): Promise<void> {
    const port = to === 'guest' ? this.#guestPort : this.encapPort;
    return new Promise((resolve, reject) =>
      this.socket.send(packet, port, LOOPBACK, (e) => (e ? reject(e) : resolve())),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Collects the messages of a protected socket. */
function inbox(socket: IpSecDatagramSocket) {
  const received: { text: string; port: number }[] = [];
  let waiter: (() => void) | undefined;
  socket.on('message', (msg: Buffer, rinfo: { port: number }) => {
    received.push({ text: msg.toString(), port: rinfo.port });
    waiter?.();
  });
  return {
    received,
    async waitFor(count: number): Promise<void> {
      const deadline = Date.now() + TIMEOUT_MS;
      while (received.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`Expected ${count} messages, got ${received.length}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        waiter = undefined;
      }
    },
  };
}

describe('IpSecManager (userspace backend) with the Linux kernel (qemu) as the peer', () => {
  let peer: KernelPeer;
  let caseIndex = 0;

  before(
    async () => {
      peer = await KernelPeer.start();
    },
    { timeout: BOOT_TIMEOUT_MS },
  );

  after(async () => {
    await peer?.stop();
  });

  for (const c of CASES) {
    test(
      `protected UDP both ways, replays refused both ways: ${c.label}`,
      { timeout: CASE_TIMEOUT_MS },
      async () => {
        caseIndex++;
        const appPort = 6000 + caseIndex;
        const spiToGuest = 0x20000 + caseIndex * 2;
        const spiToHost = spiToGuest + 1;
        const { configure, kernel } = c.make();
        const relay = await Relay.open(peer.hostPort);
        const ipsec = await IpSecManager.create({
          replayWindowSize: REPLAY_WINDOW,
          esn: c.esn,
          keepaliveIntervalMs: 0,
        });
        try {
          await peer.flushXfrm();
          const common = {
            algorithms: kernel,
            hostEncapPort: relay.port,
            replayWindow: REPLAY_WINDOW,
            esn: c.esn,
          };
          await peer.addTransportSa({ ...common, direction: 'in', spi: spiToGuest });
          await peer.addTransportSa({ ...common, direction: 'out', spi: spiToHost });
          await peer.addOutboundPolicy(appPort);
          await peer.udpOpen(appPort, { echo: true });

          const encap = await ipsec.openUdpEncapsulationSocket();
          relay.encapPort = encap.getPort();
          const outSpi = await ipsec.allocateSecurityParameterIndex(LOOPBACK, spiToGuest);
          const inSpi = await ipsec.allocateSecurityParameterIndex(LOOPBACK, spiToHost);
          const build = (spi: typeof outSpi) =>
            configure(new IpSecTransform.Builder(ipsec))
              .setIpv4Encapsulation(encap, relay.port)
              .buildTransportModeTransform(LOOPBACK, spi);
          const outbound = await build(outSpi);
          const inbound = await build(inSpi);
          const socket = ipsec.createDatagramSocket('udp4');
          const { port: socketPort } = await socket.bind(0, LOOPBACK);
          await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, outbound);
          await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_IN, inbound);
          const box = inbox(socket);

          const texts = ['one', 'two', 'three'].map((t) => `${t}: ${c.label}`);
          for (const [i, text] of texts.entries()) {
            await socket.send(text, appPort, LOOPBACK);
            await box.waitFor(i + 1);
          }
          assert.deepEqual(
            box.received,
            texts.map((text) => ({ text, port: appPort })),
          );
          const delivered = await peer.udpRead(appPort);
          assert.deepEqual(
            delivered.datagrams.map((d) => [d.host, d.port, Buffer.from(d.data).toString()]),
            texts.map((t) => [HOST_ADDRESS_IN_GUEST, socketPort, t]),
          );

          // The manager refuses the kernel's replay; a fresh echo after it proves it was judged.
          const kernelPacket = relay.lastToHost;
          assert.ok(kernelPacket !== undefined);
          const replaysBefore = ipsec.getStatistics()['drop.replay'] ?? 0;
          await relay.resend(kernelPacket, 'host');
          await socket.send('after host replay', appPort, LOOPBACK);
          await box.waitFor(texts.length + 1);
          assert.equal((ipsec.getStatistics()['drop.replay'] ?? 0) - replaysBefore, 1);

          // The kernel refuses the manager's replay.
          const ourPacket = relay.lastToGuest;
          assert.ok(ourPacket !== undefined);
          const statBefore = await peer.xfrmStat();
          await relay.resend(ourPacket, 'guest');
          await socket.send('after guest replay', appPort, LOOPBACK);
          await box.waitFor(texts.length + 2);
          const statAfter = await peer.xfrmStat();
          assert.equal(
            (statAfter.get('XfrmInStateSeqError') ?? 0) -
              (statBefore.get('XfrmInStateSeqError') ?? 0),
            1,
          );
          assert.deepEqual(
            box.received.slice(texts.length).map((m) => m.text),
            ['after host replay', 'after guest replay'],
          );
          assert.deepEqual(
            (await peer.udpRead(appPort)).datagrams.map((d) => Buffer.from(d.data).toString()),
            ['after host replay', 'after guest replay'],
          );
          await peer.udpClose(appPort);
        } catch (error: unknown) {
          console.log(`--- ${c.label}: manager statistics`, ipsec.getStatistics());
          console.log(`--- /proc/net/xfrm_stat\n${await peer.xfrmStatText().catch(String)}`);
          throw error;
        } finally {
          await ipsec.close();
          await relay.close();
        }
      },
    );
  }
});
