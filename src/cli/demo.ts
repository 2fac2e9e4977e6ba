#!/usr/bin/env node
/**
 * `npm run demo`: two protected endpoints ("alice" and "bob", each its own userspace backend, as
 * two devices would be) exchange datagrams over loopback through IPsec transport mode in
 * ESP-in-UDP (RFC 3948). A wire tap (a plain UDP relay between the two encapsulation sockets)
 * shows what actually crosses the wire: ESP, never the plaintext. Prints the transforms (never
 * keys) and live per-SA counters.
 *
 * `--pcap FILE` (or `--pcap=FILE`) also writes the wire traffic as a pcap (outer IPv4/UDP/ESP)
 * and `FILE.esp_sa`, the Wireshark SA table WITH THE KEYS, so the capture can be decrypted in
 * Wireshark or tshark. The key file is always a new file of mode 0600: written to a temporary
 * file created exclusively (`O_EXCL | O_NOFOLLOW`) in the same directory, then renamed over the
 * target — whatever was at that path (a file of another user, a symlink) is replaced, never
 * written through. `--help` prints the usage; an unknown option prints it on stderr, exit 2.
 */
// First: no inspector on SIGUSR1, no NODE_OPTIONS as root (see process_guard.ts).
import './process_guard.ts';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import {
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs as parseCommandLine } from 'node:util';
import { addressBytes } from '../datapath/address_bytes.ts';
import { encodePcap, type PcapRecord } from '../datapath/pcap_writer.ts';
import { formatEspSaWithKeysForWireshark } from '../datapath/wireshark_esp_sa.ts';
import { formatSpi } from '../esp/format_spi.ts';
import { buildIpv4Packet, buildUdpDatagram } from '../esp/ip_packet.ts';
import {
  IpSecAlgorithm,
  IpSecManager,
  IpSecTransform,
  type IpSecTransformState,
  type TransformDescription,
  type UdpEncapsulationSocket,
} from '../ipsec/mod.ts';

const LOOPBACK = '127.0.0.1';
const ROUNDS = 5;

interface Endpoint {
  readonly name: string;
  readonly ipsec: IpSecManager;
  readonly encap: UdpEncapsulationSocket;
}

interface WireRecord {
  readonly timestampMs: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly bytes: Uint8Array;
}

const USAGE = `Usage: tsnetd-demo [--pcap FILE] [--help]

Two IPsec endpoints (userspace ESP-in-UDP, no root) exchange datagrams over 127.0.0.1 through a
wire tap; prints the transforms (never keys), the ESP seen on the wire and per-SA counters.

Options:
  --pcap FILE, --pcap=FILE  also write the wire traffic to FILE (pcap) and FILE.esp_sa, a
                            Wireshark esp_sa table CONTAINING THE KEYS (new file, mode 0600)
  -h, --help                print this help and exit
`;

/** The command line, or the exit code when there is nothing to run. */
function parseArgs(argv: readonly string[]): { pcap?: string } | { exitCode: number } {
  let values: { pcap?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseCommandLine({
      args: [...argv],
      options: { pcap: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err: unknown) {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return { exitCode: 2 };
  }
  if (values.help === true) {
    process.stdout.write(USAGE);
    return { exitCode: 0 };
  }
  if (values.pcap === '') {
    process.stderr.write(`demo: --pcap needs a file name\n${USAGE}`);
    return { exitCode: 2 };
  }
  return values.pcap === undefined ? {} : { pcap: values.pcap };
}

function describe(d: TransformDescription): string {
  const alg =
    d.aead !== undefined
      ? `${d.aead.name} ICV ${d.aead.icvLengthBits} bits`
      : `${d.encryption ?? 'null'} + ${d.authentication?.name ?? 'no auth'}`;
  const encap = d.encapsulation;
  // The remote port of every transform is the wire tap's relay port, not the peer's own port.
  return `SPI ${formatSpi(d.spi)}  ${d.sourceAddress} -> ${d.destinationAddress}  ${alg}  ESP-in-UDP from encap port ${encap?.localPort} to relay port ${encap?.remotePort}`;
}

function counters(s: IpSecTransformState): string {
  return `tx seq ${s.txHighestSequenceNumber}, rx seq ${s.rxHighestSequenceNumber}, ${s.packetCount} packets, ${s.byteCount} bytes`;
}

/** A wire tap: relays every datagram between the two encapsulation ports and records it. */
async function openWireTap(
  records: WireRecord[],
): Promise<{ socket: Socket; port: number; connect(a: number, b: number): void }> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, LOOPBACK, resolve));
  let portA = 0;
  let portB = 0;
  socket.on('message', (msg, rinfo) => {
    const to = rinfo.port === portA ? portB : portA;
    records.push({
      timestampMs: Date.now(),
      srcPort: rinfo.port,
      dstPort: to,
      bytes: Uint8Array.from(msg),
    });
    socket.send(msg, to, LOOPBACK);
  });
  return {
    socket,
    port: socket.address().port,
    connect(a: number, b: number) {
      portA = a;
      portB = b;
    },
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if ('exitCode' in args) {
    process.exitCode = args.exitCode;
    return;
  }
  console.log('tsnetd IPsec demo: Android IpSecManager semantics, userspace ESP-in-UDP, no root\n');

  const wire: WireRecord[] = [];
  const tap = await openWireTap(wire);
  await using alice = await endpoint('alice');
  await using bob = await endpoint('bob');
  tap.connect(alice.encap.getPort(), bob.encap.getPort());

  // Keys as IKE would negotiate them: one AES-GCM key(+salt) per direction.
  const keyAB = randomBytes(20);
  const keyBA = randomBytes(20);
  try {
    // bob reserves the SPI of his inbound SA and tells alice; alice uses the same SPI outbound.
    const spiAB = await bob.ipsec.allocateSecurityParameterIndex(LOOPBACK);
    const spiBA = await alice.ipsec.allocateSecurityParameterIndex(LOOPBACK);
    const aliceOut = await transform(alice, keyAB, spiAB.getSpi(), tap.port);
    const bobIn = await transform(bob, keyAB, spiAB.getSpi(), tap.port, spiAB);
    const bobOut = await transform(bob, keyBA, spiBA.getSpi(), tap.port);
    const aliceIn = await transform(alice, keyBA, spiBA.getSpi(), tap.port, spiBA);

    console.log('Transforms (keys are never printed):');
    console.log(`  alice OUT  ${describe(aliceOut.describe())}`);
    console.log(`  bob   IN   ${describe(bobIn.describe())}`);
    console.log(`  bob   OUT  ${describe(bobOut.describe())}`);
    console.log(`  alice IN   ${describe(aliceIn.describe())}\n`);

    await using aliceSocket = alice.ipsec.createDatagramSocket('udp4');
    await using bobSocket = bob.ipsec.createDatagramSocket('udp4');
    const alicePort = (await aliceSocket.bind(0, LOOPBACK)).port;
    const bobPort = (await bobSocket.bind(0, LOOPBACK)).port;
    await alice.ipsec.applyTransportModeTransform(
      aliceSocket,
      IpSecManager.DIRECTION_OUT,
      aliceOut,
    );
    await alice.ipsec.applyTransportModeTransform(aliceSocket, IpSecManager.DIRECTION_IN, aliceIn);
    await bob.ipsec.applyTransportModeTransform(bobSocket, IpSecManager.DIRECTION_OUT, bobOut);
    await bob.ipsec.applyTransportModeTransform(bobSocket, IpSecManager.DIRECTION_IN, bobIn);

    bobSocket.on('message', (msg: Buffer, rinfo) => {
      console.log(`  bob   <- ${rinfo.address}:${rinfo.port}  "${msg}"`);
      void bobSocket.send(`ack ${msg}`, rinfo.port, rinfo.address);
    });
    let acks = 0;
    const allAcked = new Promise<void>((resolve) => {
      aliceSocket.on('message', (msg: Buffer, rinfo) => {
        console.log(`  alice <- ${rinfo.address}:${rinfo.port}  "${msg}"`);
        if (++acks === ROUNDS) resolve();
      });
    });
    console.log(`Exchange (alice udp ${alicePort} <-> bob udp ${bobPort}, protected):`);
    const secrets: string[] = [];
    for (let i = 1; i <= ROUNDS; i++) {
      const text = `secret message #${i} from alice`;
      secrets.push(text);
      await aliceSocket.send(text, bobPort, LOOPBACK);
      await new Promise((r) => setTimeout(r, 20));
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        allAcked,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('Demo timed out')), 3000);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }

    console.log(
      `\nOn the wire (seen by the relay on udp ${tap.port}; ports are the sender's and the receiver's encapsulation sockets):`,
    );
    for (const r of wire.slice(0, 4)) {
      const v = new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
      console.log(
        `  udp ${r.srcPort} -> ${r.dstPort}  ${r.bytes.length} bytes  ESP spi=${formatSpi(v.getUint32(0))} seq=${v.getUint32(4)}  ${Buffer.from(r.bytes.subarray(8, 24)).toString('hex')}…`,
      );
    }
    const wireBytes = Buffer.concat(wire.map((r) => r.bytes));
    const leaked = secrets.some((s) => wireBytes.includes(s)) || wireBytes.includes('secret');
    console.log(
      `  ${wire.length} datagrams, ${wireBytes.length} bytes; plaintext found on the wire: ${leaked ? 'YES (bug!)' : 'no'}`,
    );

    console.log('\nPer-SA counters (IpSecTransformState):');
    for (const [label, t] of [
      ['alice OUT', aliceOut],
      ['bob   IN ', bobIn],
      ['bob   OUT', bobOut],
      ['alice IN ', aliceIn],
    ] as const) {
      console.log(`  ${label}  ${counters(await t.requestIpSecTransformState())}`);
    }

    if (args.pcap !== undefined) {
      writeCapture(args.pcap, wire, [
        { spi: spiAB.getSpi(), key: keyAB },
        { spi: spiBA.getSpi(), key: keyBA },
      ]);
    }
    for (const r of [aliceOut, bobIn, bobOut, aliceIn, spiAB, spiBA]) await r.close();
    if (leaked || acks !== ROUNDS) process.exitCode = 1;
  } finally {
    keyAB.fill(0);
    keyBA.fill(0);
    await new Promise<void>((resolve) => tap.socket.close(() => resolve()));
  }
}

async function endpoint(name: string): Promise<Endpoint & AsyncDisposable> {
  const ipsec = await IpSecManager.create({ ownerId: name });
  const encap = await ipsec.openUdpEncapsulationSocket();
  return { name, ipsec, encap, [Symbol.asyncDispose]: () => ipsec.close() };
}

async function transform(
  e: Endpoint,
  key: Uint8Array,
  spiValue: number,
  remotePort: number,
  reserved?: { getSpi(): number },
): Promise<IpSecTransform> {
  // The receiving side already holds the SPI it allocated; the sending side reserves the same value.
  const spi =
    reserved !== undefined && reserved.getSpi() === spiValue
      ? (reserved as Awaited<ReturnType<IpSecManager['allocateSecurityParameterIndex']>>)
      : await e.ipsec.allocateSecurityParameterIndex(LOOPBACK, spiValue);
  const t = await new IpSecTransform.Builder(e.ipsec)
    .setAuthenticatedEncryption(new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, key, 128))
    .setIpv4Encapsulation(e.encap, remotePort)
    .buildTransportModeTransform(LOOPBACK, spi);
  if (spi !== reserved) await spi.close();
  return t;
}

function writeCapture(
  file: string,
  wire: readonly WireRecord[],
  sas: readonly { spi: number; key: Uint8Array }[],
): void {
  const lo = addressBytes(LOOPBACK);
  const records: PcapRecord[] = wire.map((r) => ({
    timestampMs: r.timestampMs,
    packet: buildIpv4Packet({
      src: lo,
      dst: lo,
      protocol: 17,
      payload: buildUdpDatagram({
        srcAddr: lo,
        dstAddr: lo,
        srcPort: r.srcPort,
        dstPort: r.dstPort,
        payload: r.bytes,
      }),
    }),
  }));
  // No keys in the capture, but the same care: a planted symlink at the path is replaced.
  writeNewFile(file, encodePcap(records), 0o644);
  const lines = sas.map(
    (sa) =>
      formatEspSaWithKeysForWireshark({
        protocol: 'IPv4',
        spi: sa.spi,
        aead: { name: 'rfc4106(gcm(aes))', key: sa.key, icvLengthBits: 128 },
      }).fileLine,
  );
  const saFile = `${file}.esp_sa`;
  writeNewFile(
    saFile,
    `# WARNING: this file CONTAINS THE ESP KEYS of the demo (Wireshark esp_sa UAT table).\n${lines.join('\n')}\n`,
    0o600,
  );
  const ports = [...new Set(wire.flatMap((r) => [r.srcPort, r.dstPort]))];
  console.log(`\nWrote ${wire.length} packets to ${file} and the SA table WITH KEYS to ${saFile}`);
  console.log(
    'Decrypt with Wireshark (copy the table into the esp_sa file of your profile) or, in bash (the keys are read from the file, never printed):',
  );
  console.log(`  mapfile -t sa < <(grep '^"' ${shellQuote(saFile)})`);
  console.log(
    `  tshark -r ${shellQuote(file)} ${ports.map((p) => `-d udp.port==${p},udpencap`).join(' ')} -o esp.enable_encryption_decode:TRUE "\${sa[@]/#/-ouat:esp_sa:}"`,
  );
}

/** `text` as one shell word. */
function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * Writes `content` to `target` as a NEW file of exactly `mode`: a temporary file created
 * exclusively (`O_EXCL | O_NOFOLLOW`, so neither an existing file nor a planted symlink is opened)
 * in the target's directory, then renamed over `target`. Whatever was at `target` — a file of
 * another owner or mode, a symlink — is replaced, never written through.
 */
function writeNewFile(target: string, content: string | Uint8Array, mode: number): void {
  const temporary = join(
    dirname(target),
    `.${basename(target)}.${randomBytes(8).toString('hex')}.tmp`,
  );
  const fd = openSync(
    temporary,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    try {
      fchmodSync(fd, mode); // exactly `mode`, whatever the umask
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, target);
  } catch (err: unknown) {
    rmSync(temporary, { force: true });
    throw err;
  }
}

main().catch((err: unknown) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
