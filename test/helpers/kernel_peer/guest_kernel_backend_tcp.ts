/**
 * Runs INSIDE the kernel-peer guest (Debian kernel with ESP), started by
 * test/interop/kernel_backend_tcp.test.ts through `KernelPeer.hostExec`: TCP over transport-mode
 * ESP with the kernel backend (Android's `applyTransportModeTransform(Socket, …)`).
 *
 * Per family (127.0.0.1, ::1): transform C (client → server, AES-GCM) and S (server → client,
 * AES-CBC + HMAC-SHA256); the listening server gets IN C / OUT S after `listen()`, the client
 * OUT C / IN S before `connect()`, the accepted socket both again (as Android apps do). Data
 * flows both ways and both sides close gracefully. Prints one line `RESULT <json>` with the
 * measurements (the host test asserts them); every step is bounded and a stuck case prints
 * `ip -s xfrm state`, `/proc/net/xfrm_stat` and `ss -tni` instead of hanging.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { IpSecAlgorithm, IpSecManager, IpSecTransform } from '../../../src/ipsec/mod.ts';

const CASE_TIMEOUT_MS = 30_000;
const CLIENT_BYTES = 48 * 1024;
const SERVER_BYTES = 24 * 1024;

/**
 * The guest's procfs. In the chroot, /proc shows sysfs: the host's /proc and /sys reach the guest
 * over one 9p export with colliding inode numbers, so the harness's two mounts land on one
 * directory. A private proc mount in the guest's tmpfs /tmp sidesteps that.
 */
function guestProc(): string {
  if (existsSync('/proc/net/xfrm_stat')) return '/proc';
  const dir = `/tmp/tsnetd-proc-${process.pid}`;
  mkdirSync(dir, { recursive: true });
  execFileSync('/bin/mount', ['-t', 'proc', 'proc', dir]);
  process.once('exit', () => {
    try {
      execFileSync('/bin/umount', [dir]);
    } catch {
      // the guest's tmpfs goes away with the VM
    }
  });
  return dir;
}
const PROC = guestProc();

function readCounters(): Map<string, number> {
  const counters = new Map<string, number>();
  for (const line of readFileSync(`${PROC}/net/xfrm_stat`, 'utf8').split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name) counters.set(name, Number(value));
  }
  // The TCP MIB is shared by IPv4 and IPv6: "Tcp: <names>" then "Tcp: <values>".
  const tcp = readFileSync(`${PROC}/net/snmp`, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Tcp:'));
  const names = tcp[0]?.split(/\s+/).slice(1) ?? [];
  const values = tcp[1]?.split(/\s+/).slice(1) ?? [];
  names.forEach((n, i) => {
    counters.set(`Tcp${n}`, Number(values[i]));
  });
  return counters;
}

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

function diagnostics(): string {
  const run = (argv: string[]): string => {
    try {
      return execFileSync(argv[0] ?? '', argv.slice(1), { encoding: 'utf8', timeout: 5_000 });
    } catch (err: unknown) {
      return String(err);
    }
  };
  return [
    run(['/usr/sbin/ip', '-s', 'xfrm', 'state', 'list', 'nokeys']),
    run(['/usr/sbin/ip', 'xfrm', 'policy', 'list']),
    run(['/bin/cat', `${PROC}/net/xfrm_stat`]),
    run(['/usr/bin/ss', '-tnia']),
  ].join('\n');
}

/** Reads until `n` bytes arrived; resolves their SHA-256. */
function receive(socket: Socket, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let got = 0;
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      got += chunk.length;
      if (got === n) resolve(hash.digest('hex'));
      else if (got > n) reject(new Error(`received ${got} > ${n} bytes`));
    });
    socket.once('error', reject);
    socket.once('end', () => {
      if (got < n) reject(new Error(`connection ended after ${got} of ${n} bytes`));
    });
  });
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const closed = (s: Socket): Promise<void> =>
  new Promise((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())));

async function runCase(ipsec: IpSecManager, address: string): Promise<Record<string, unknown>> {
  const spiC = await ipsec.allocateSecurityParameterIndex(address);
  const spiS = await ipsec.allocateSecurityParameterIndex(address);
  const toServer = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(
      new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128),
    )
    .buildTransportModeTransform(address, spiC);
  const toClient = await new IpSecTransform.Builder(ipsec)
    .setEncryption(new IpSecAlgorithm(IpSecAlgorithm.CRYPT_AES_CBC, randomBytes(16)))
    .setAuthentication(new IpSecAlgorithm(IpSecAlgorithm.AUTH_HMAC_SHA256, randomBytes(32), 128))
    .buildTransportModeTransform(address, spiS);
  const { DIRECTION_IN: IN, DIRECTION_OUT: OUT } = IpSecManager;
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  await ipsec.applyTransportModeTransform(server, IN, toServer);
  await ipsec.applyTransportModeTransform(server, OUT, toClient);
  const clientData = randomBytes(CLIENT_BYTES);
  const serverData = randomBytes(SERVER_BYTES);
  const before = readCounters();

  const accepted = new Promise<{ socket: Socket; received: Promise<string> }>((resolve) => {
    server.once('connection', (socket: Socket) => {
      // Android apps apply to the accepted socket too (it already inherited the server's).
      const received = receive(socket, CLIENT_BYTES);
      void Promise.all([
        ipsec.applyTransportModeTransform(socket, IN, toServer),
        ipsec.applyTransportModeTransform(socket, OUT, toClient),
      ]).then(async () => {
        await received;
        socket.end(serverData);
      });
      resolve({ socket, received });
    });
  });
  const client = new Socket();
  await ipsec.applyTransportModeTransform(client, OUT, toServer);
  await ipsec.applyTransportModeTransform(client, IN, toClient);
  const clientReceived = receive(client, SERVER_BYTES);
  const connected = new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  client.connect(port, address);
  await connected;
  client.write(clientData);
  const { socket: serverSide, received: serverReceived } = await accepted;
  const [serverHash, clientHash] = await Promise.all([serverReceived, clientReceived]);
  client.end();
  await Promise.all([closed(client), closed(serverSide)]);
  await sleep(300); // let the last ACKs settle before reading the counters
  const after = readCounters();
  const c = await toServer.requestIpSecTransformState();
  const s = await toClient.requestIpSecTransformState();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const r of [toServer, toClient, spiC, spiS]) await r.close();
  return {
    address,
    dataOk: serverHash === sha(clientData) && clientHash === sha(serverData),
    counters: delta(before, after),
    toServer: {
      tx: Number(c.txHighestSequenceNumber),
      rx: Number(c.rxHighestSequenceNumber),
      packets: Number(c.packetCount),
      bytes: Number(c.byteCount),
    },
    toClient: {
      tx: Number(s.txHighestSequenceNumber),
      rx: Number(s.rxHighestSequenceNumber),
      packets: Number(s.packetCount),
      bytes: Number(s.byteCount),
    },
  };
}

const ipsec = await IpSecManager.create({ backend: 'kernel' });
const results: Record<string, unknown>[] = [];
for (const address of ['127.0.0.1', '::1']) {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`TCP case ${address} timed out after ${CASE_TIMEOUT_MS} ms`)),
      CASE_TIMEOUT_MS,
    );
  });
  try {
    results.push({
      ...(await Promise.race([runCase(ipsec, address), timeout])),
      ms: Date.now() - started,
    });
  } catch (err: unknown) {
    process.stdout.write(`FAILED ${address}: ${String(err)}\n${diagnostics()}\n`);
    process.exit(1);
  } finally {
    clearTimeout(timer);
  }
}
await ipsec.close();
process.stdout.write(`RESULT ${JSON.stringify(results)}\n`);
process.exit(0);
