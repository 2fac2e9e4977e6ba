/**
 * Runs INSIDE the kernel-peer guest, started by test/interop/kernel_backend_interop.test.ts through
 * `KernelPeer.hostExec`: the kernel-backend end of the cross-backend interop test (GitHub issue 6,
 * point 5). ONE process serves every case over a line protocol (JSON per line) on a TCP
 * connection to the host test at 10.0.2.2:<argv[2]> (qemu's user network maps it to the host's
 * 127.0.0.1), using the public IpSecManager API only:
 *
 * - `{"op":"case", esn, algorithms, spiIn, spiOut, hostEncapPort}` → a manager on the shared
 *   KernelBackend, an IN transform (10.0.2.2 → 10.0.2.15, SPI `spiIn`) and an OUT transform
 *   (10.0.2.15 → 10.0.2.2, SPI `spiOut`, ESP-in-UDP to `hostEncapPort`) on the encapsulation
 *   socket 4500 + 1, and an app socket on UDP 5001 that echoes every datagram; → `{"ok":true}`
 * - `{"op":"state"}` → both transforms' `IpSecTransformState` counters
 * - `{"op":"end"}` → closes the case's manager (socket, transforms, SPIs)
 * - `{"op":"quit"}` → closes everything and exits.
 * Errors answer `{"error": "<message>"}`.
 * With a second argument (an IPsec service socket path) the backend is the service's instead:
 * guest_ipsec_service_interop.ts runs it so, unprivileged, against a root daemon.
 */
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import {
  IpSecAlgorithm,
  type IpSecDatagramSocket,
  IpSecManager,
  IpSecTransform,
  type IpSecTransformBuilder,
  KernelBackend,
  ServiceBackend,
  type UdpEncapsulationSocket,
} from '../../../src/ipsec/mod.ts';

const GUEST = '10.0.2.15';
const HOST = '10.0.2.2';
/** Guest UDP port of the encapsulation socket (forwarded by the host test). */
const GUEST_INTEROP_ENCAP_PORT = 4501;
/** Guest UDP port of the echoing app socket (inside ESP only). */
const GUEST_INTEROP_APP_PORT = 5001;

/** One algorithm as sent over the line protocol (key in hex). */
interface WireAlgorithm {
  readonly name: string;
  readonly key: string;
  readonly bits: number;
}
/** The algorithms of a case. */
interface WireAlgorithms {
  readonly encryption?: WireAlgorithm;
  readonly authentication?: WireAlgorithm;
  readonly aead?: WireAlgorithm;
}

const algorithm = (a: WireAlgorithm): IpSecAlgorithm =>
  new IpSecAlgorithm(a.name, Buffer.from(a.key, 'hex'), a.bits);

interface Case {
  readonly ipsec: IpSecManager;
  readonly in: IpSecTransform;
  readonly out: IpSecTransform;
  readonly socket: IpSecDatagramSocket;
  readonly encap: UdpEncapsulationSocket;
}

async function main(): Promise<void> {
  const controlPort = Number(process.argv[2]);
  // argv[3]: the IPsec service's socket — this process is then an unprivileged app of the daemon.
  const servicePath = process.argv[3];
  const backend =
    servicePath === undefined
      ? await KernelBackend.create()
      : await ServiceBackend.connect({ path: servicePath });
  const control = connect(controlPort, HOST);
  control.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    control.once('connect', resolve);
    control.once('error', reject);
  });
  const reply = (value: unknown): void => {
    control.write(`${JSON.stringify(value)}\n`);
  };
  let current: Case | undefined;

  const build = (ipsec: IpSecManager, a: WireAlgorithms): IpSecTransformBuilder => {
    let b = new IpSecTransform.Builder(ipsec);
    if (a.aead !== undefined) b = b.setAuthenticatedEncryption(algorithm(a.aead));
    if (a.encryption !== undefined) b = b.setEncryption(algorithm(a.encryption));
    if (a.authentication !== undefined) b = b.setAuthentication(algorithm(a.authentication));
    return b;
  };

  const handle = async (message: Record<string, unknown>): Promise<unknown> => {
    switch (message.op) {
      case 'case': {
        const esn = message.esn === true;
        const algorithms = message.algorithms as WireAlgorithms;
        const ipsec = await IpSecManager.create({ backend, esn });
        try {
          const encap = await ipsec.openUdpEncapsulationSocket(GUEST_INTEROP_ENCAP_PORT);
          const hostPort = Number(message.hostEncapPort);
          const spiIn = await ipsec.allocateSecurityParameterIndex(GUEST, Number(message.spiIn));
          const spiOut = await ipsec.allocateSecurityParameterIndex(HOST, Number(message.spiOut));
          const inbound = await build(ipsec, algorithms)
            .setIpv4Encapsulation(encap, hostPort)
            .buildTransportModeTransform(HOST, spiIn);
          const outbound = await build(ipsec, algorithms)
            .setIpv4Encapsulation(encap, hostPort)
            .buildTransportModeTransform(GUEST, spiOut);
          const socket = ipsec.createDatagramSocket('udp4');
          await socket.bind(GUEST_INTEROP_APP_PORT, '0.0.0.0');
          await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_IN, inbound);
          await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, outbound);
          socket.on('message', (msg: Buffer, rinfo: { address: string; port: number }) => {
            // Echo, marked so the host sees the guest app handled it.
            void socket
              .send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address)
              .catch(() => undefined);
          });
          current = { ipsec, in: inbound, out: outbound, socket, encap };
        } catch (err: unknown) {
          await ipsec.close();
          throw err;
        }
        return { ok: true };
      }
      case 'state': {
        if (current === undefined) throw new Error('no case');
        const [i, o] = await Promise.all([
          current.in.requestIpSecTransformState(),
          current.out.requestIpSecTransformState(),
        ]);
        const wire = (s: typeof i) => ({
          tx: String(s.txHighestSequenceNumber),
          rx: String(s.rxHighestSequenceNumber),
          packets: String(s.packetCount),
          bytes: String(s.byteCount),
        });
        return { in: wire(i), out: wire(o) };
      }
      case 'end': {
        await current?.ipsec.close();
        current = undefined;
        return { ok: true };
      }
      default:
        throw new Error(`unknown op ${String(message.op)}`);
    }
  };

  const lines = createInterface({ input: control });
  for await (const line of lines) {
    const message = JSON.parse(line) as Record<string, unknown>;
    if (message.op === 'quit') break;
    try {
      reply(await handle(message));
    } catch (err: unknown) {
      reply({ error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    }
  }
  await current?.ipsec.close();
  await backend.close();
  control.end();
}

await main();
process.exit(0);
