/**
 * The IPsec service of tsnetd: the one privileged owner of the kernel's IPsec state, serving
 * unprivileged `IpSecManager`s (`backend: 'service'`) over a Unix stream socket (protocol in
 * `wire.ts`, docs/ipsec-service.md).
 *
 * - Identity is the kernel's: `SO_PEERCRED` of the connection. The owner of every resource is
 *   the peer's UID (`uid:<n>` in the service core), so all connections of one UID share its
 *   quotas and no UID reaches another's resources; a connection is one manager (its token).
 * - Death of a connection (exit, SIGKILL, close) releases everything it created: SAs deleted,
 *   reservations returned, encapsulation sockets closed. Policies stay on the client's sockets
 *   and name deleted SAs: those sockets fail closed.
 * - Every SA and reservation carries a `reqid` of the daemon's range; at start the daemon deletes
 *   whatever a killed predecessor left.
 * - Bounded: frames, descriptors per frame, requests in flight per connection, connections per
 *   UID and in total. A client that breaks the protocol or does not read its replies is
 *   disconnected (and released); the others are not affected.
 */
import { chmodSync, chownSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import {
  closeDescriptor,
  connectUnixStream,
  DescriptorPassingError,
  type DescriptorWatch,
  describeSocket,
  duplicateDescriptor,
  receiveWithDescriptors,
  sendWithDescriptors,
  watchReadable,
} from '../../sys/descriptor_passing.ts';
import { peerCredentials } from '../../sys/peer_credentials.ts';
import { socketFd } from '../../sys/socket_fd.ts';
import type { AddressFamily } from '../backend.ts';
import { IllegalArgumentError, IpSecError, SecurityError, SpiUnavailableError } from '../errors.ts';
import { IpSecAlgorithm } from '../ipsec_algorithm.ts';
import { type Caller, IpSecService, type IpSecServiceCallOptions } from '../ipsec_service.ts';
import { KernelBackend, KernelBackendUnavailableError } from '../kernel_backend.ts';
import {
  DAEMON_REQID_BASE,
  DaemonBackend,
  DescriptorEncapSocket,
  DescriptorSocket,
  flushDaemonState,
} from './daemon_backend.ts';
import {
  DEFAULT_IPSEC_SOCKET_PATH,
  encodeFrame,
  type Frame,
  FrameReader,
  intField,
  KIND_REPLY,
  KIND_REQUEST,
  opName,
  stringField,
  WIRE_VERSION,
  type WireError,
  WireProtocolError,
} from './wire.ts';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const MAX_READ = 65536;
const MAX_QUEUED_DESCRIPTORS = 4;
const MAX_REQUESTS_IN_FLIGHT = 32;
const ECONNREFUSED = 111;
const ENOENT = 2;

/** Options of {@link IpSecServiceServer.listen}. */
export interface IpSecServiceServerOptions {
  /** Unix socket path (default {@link DEFAULT_IPSEC_SOCKET_PATH}). */
  readonly socketPath?: string;
  /** Group allowed to connect: the socket becomes `root:<gid>` mode 0660 (default: mode 0666). */
  readonly groupId?: number;
  /** The kernel backend (tests); default `KernelBackend.create()` with the daemon's reqid. */
  readonly createKernelBackend?: () => Promise<KernelBackend>;
  /** Whether to delete a killed predecessor's SAs at start (default true). */
  readonly flushAtStart?: boolean;
  /** Connections at once, all UIDs (default 256). */
  readonly maxConnections?: number;
  /** Connections at once per UID (default 64). */
  readonly maxConnectionsPerUid?: number;
  readonly log?: (line: string) => void;
}

/** Another daemon answers on the socket path. */
export class IpSecServiceRunningError extends IpSecError {
  constructor(path: string) {
    super(
      `Cannot listen on ${path}: another IPsec service is running there`,
      'ERR_IPSEC_SERVICE_RUNNING',
    );
    this.name = 'IpSecServiceRunningError';
  }
}

/**
 * A key carried by the wire: validated like any `IpSecAlgorithm` (on a zero key of the same
 * length, so no copy of the secret stays in a field nobody can zero), handing out copies of a
 * buffer this side zeroes once the transform is built.
 */
class TransientAlgorithm extends IpSecAlgorithm {
  readonly #secret: Uint8Array;
  constructor(name: string, secret: Uint8Array, truncationLengthBits: number) {
    super(name, new Uint8Array(secret.length), truncationLengthBits);
    this.#secret = secret;
  }
  override getKey(): Uint8Array {
    return Uint8Array.from(this.#secret);
  }
}

class Connection {
  readonly fd: number;
  readonly uid: number;
  readonly pid: number;
  readonly caller: Caller;
  readonly reader = new FrameReader();
  readonly descriptors: number[] = [];
  readonly resourceIds = new Set<number>();
  readonly spiOfTransform = new Map<number, number>();
  watch: DescriptorWatch | undefined;
  inFlight = 0;
  queue: Promise<unknown> = Promise.resolve();
  closed = false;
  constructor(fd: number, uid: number, pid: number) {
    this.fd = fd;
    this.uid = uid;
    this.pid = pid;
    this.caller = { owner: `uid:${uid}`, token: this };
  }
}

/** The daemon's IPsec service endpoint. */
export class IpSecServiceServer {
  readonly socketPath: string;
  readonly #server: Server;
  readonly #service: IpSecService | undefined;
  readonly #backend: DaemonBackend | undefined;
  readonly #unavailable: Error | undefined;
  readonly #connections = new Set<Connection>();
  readonly #perUid = new Map<number, number>();
  readonly #maxConnections: number;
  readonly #maxPerUid: number;
  readonly #log: (line: string) => void;
  #closing: Promise<void> | undefined;
  /** Requests answered (all connections). */
  requestCount = 0;

  private constructor(
    socketPath: string,
    server: Server,
    backend: DaemonBackend | undefined,
    unavailable: Error | undefined,
    options: IpSecServiceServerOptions,
  ) {
    this.socketPath = socketPath;
    this.#server = server;
    this.#backend = backend;
    this.#service =
      backend === undefined
        ? undefined
        : new IpSecService(backend, { firstOwnerTag: DAEMON_REQID_BASE + 1 });
    this.#unavailable = unavailable;
    this.#maxConnections = options.maxConnections ?? 256;
    this.#maxPerUid = options.maxConnectionsPerUid ?? 64;
    this.#log = options.log ?? (() => undefined);
    server.on('connection', (socket) => {
      let fd: number;
      try {
        fd = duplicateDescriptor(socketFd(socket));
      } catch {
        socket.destroy();
        return;
      }
      // Node never reads this socket (pauseOnConnect): the daemon reads with recvmsg only, so
      // no descriptor sent by the client is dropped by a plain read().
      socket.destroy();
      this.#accept(fd);
    });
  }

  /**
   * Opens the kernel backend (or records why it cannot), deletes a killed predecessor's state,
   * and listens. A kernel without ESP does not stop the daemon: each request then fails with
   * the same {@link KernelBackendUnavailableError} the in-process backend throws.
   *
   * @throws {IpSecServiceRunningError} another daemon answers on the path
   */
  static async listen(options: IpSecServiceServerOptions = {}): Promise<IpSecServiceServer> {
    const socketPath = options.socketPath ?? DEFAULT_IPSEC_SOCKET_PATH;
    const log = options.log ?? (() => undefined);
    try {
      const probe = connectUnixStream(socketPath);
      closeDescriptor(probe);
      throw new IpSecServiceRunningError(socketPath);
    } catch (err: unknown) {
      if (err instanceof IpSecServiceRunningError) throw err;
      if (err instanceof DescriptorPassingError && err.errno === ECONNREFUSED) {
        unlinkSync(socketPath); // a dead daemon's socket file
      } else if (!(err instanceof DescriptorPassingError && err.errno === ENOENT)) {
        throw err;
      }
    }
    let backend: DaemonBackend | undefined;
    let unavailable: Error | undefined;
    try {
      const kernel = await (
        options.createKernelBackend ??
        (() => KernelBackend.create({ reservationReqid: DAEMON_REQID_BASE }))
      )();
      backend = new DaemonBackend(kernel);
      if (options.flushAtStart !== false) {
        const { deleted, expiring } = await flushDaemonState();
        if (deleted + expiring > 0) {
          log(`removed ${deleted} SA(s) left by a previous daemon (${expiring} expiring)`);
        }
      }
    } catch (err: unknown) {
      if (!(err instanceof KernelBackendUnavailableError)) {
        await backend?.close();
        throw err;
      }
      unavailable = err;
      log(`kernel IPsec unavailable (${err.reason}): every request will fail`);
    }
    mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 });
    const server = createServer({ pauseOnConnect: true });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      if (options.groupId === undefined) {
        chmodSync(socketPath, 0o666);
      } else {
        chownSync(socketPath, -1, options.groupId); // a group of ours: no CAP_CHOWN needed
        chmodSync(socketPath, 0o660);
      }
    } catch (err: unknown) {
      server.close();
      await backend?.close();
      throw err;
    }
    return new IpSecServiceServer(socketPath, server, backend, unavailable, options);
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  #accept(fd: number): void {
    let credentials: { uid: number; pid: number };
    try {
      credentials = peerCredentials(fd);
    } catch {
      closeDescriptor(fd);
      return;
    }
    const count = this.#perUid.get(credentials.uid) ?? 0;
    if (
      this.#closing !== undefined ||
      this.#connections.size >= this.#maxConnections ||
      count >= this.#maxPerUid
    ) {
      this.#log(`refused a connection of uid ${credentials.uid}: too many connections`);
      closeDescriptor(fd);
      return;
    }
    const connection = new Connection(fd, credentials.uid, credentials.pid);
    this.#connections.add(connection);
    this.#perUid.set(credentials.uid, count + 1);
    connection.watch = watchReadable(fd, () => this.#onReadable(connection));
  }

  #onReadable(connection: Connection): void {
    if (connection.closed) return;
    try {
      for (;;) {
        const message = receiveWithDescriptors(connection.fd, MAX_READ, 2);
        if (message === 'again') return;
        if (message === 'eof') {
          this.#drop(connection, 'closed');
          return;
        }
        connection.descriptors.push(...message.descriptors);
        if (message.truncated || connection.descriptors.length > MAX_QUEUED_DESCRIPTORS) {
          throw new WireProtocolError('Too many descriptors');
        }
        const frames = connection.reader.push(message.data);
        message.data.fill(0); // may hold keys
        for (const frame of frames) this.#dispatch(connection, frame);
        if (connection.closed) return;
      }
    } catch (err: unknown) {
      this.#drop(connection, err instanceof Error ? err.message : String(err));
    }
  }

  #dispatch(connection: Connection, frame: Frame): void {
    if (frame.kind !== KIND_REQUEST) {
      frame.secret.fill(0);
      throw new WireProtocolError('Clients send requests only');
    }
    const descriptors = connection.descriptors.splice(0, frame.descriptors);
    if (descriptors.length !== frame.descriptors) {
      frame.secret.fill(0);
      throw new WireProtocolError('A descriptor announced by the frame did not arrive');
    }
    if (connection.inFlight >= MAX_REQUESTS_IN_FLIGHT) {
      frame.secret.fill(0);
      for (const d of descriptors) closeDescriptor(d);
      throw new WireProtocolError('Too many requests in flight');
    }
    connection.inFlight++;
    connection.queue = connection.queue.then(async () => {
      let reply: Record<string, unknown>;
      let attached: DescriptorEncapSocket | undefined;
      try {
        if (connection.closed) return;
        const result = await this.#handle(connection, frame, descriptors);
        reply = result.reply;
        attached = result.encap;
      } catch (err: unknown) {
        if (err instanceof WireProtocolError) {
          this.#drop(connection, err.message);
          return;
        }
        reply = { error: wireError(err) };
      } finally {
        frame.secret.fill(0);
        for (const d of descriptors) closeDescriptor(d);
        connection.inFlight--;
      }
      this.requestCount++;
      try {
        this.#send(connection, frame, reply, attached);
      } finally {
        attached?.handOver();
      }
    });
  }

  #send(
    connection: Connection,
    frame: Frame,
    reply: Record<string, unknown>,
    encap: DescriptorEncapSocket | undefined,
  ): void {
    if (connection.closed) return;
    const fds = encap?.fd === undefined ? [] : [encap.fd];
    const bytes = encodeFrame(KIND_REPLY, frame.op, frame.requestId, reply, undefined, fds.length);
    try {
      const sent = sendWithDescriptors(connection.fd, bytes, fds);
      // A reply that does not fit at once: the client does not read. It is cut off, not waited for.
      if (sent !== bytes.length) this.#drop(connection, 'the client does not read its replies');
    } catch (err: unknown) {
      this.#drop(connection, err instanceof Error ? err.message : String(err));
    }
  }

  async #handle(
    connection: Connection,
    frame: Frame,
    descriptors: readonly number[],
  ): Promise<{ reply: Record<string, unknown>; encap?: DescriptorEncapSocket }> {
    const op = opName(frame.op);
    if (op === undefined) throw new WireProtocolError(`Unknown operation ${frame.op}`);
    const json = frame.json;
    const needs = op === 'apply' || op === 'remove' ? 1 : 0;
    if (descriptors.length !== needs) {
      throw new WireProtocolError(`Operation ${op} takes ${needs} descriptor(s)`);
    }
    if (op === 'hello') {
      return {
        reply: {
          version: WIRE_VERSION,
          uid: connection.uid,
          backend: 'kernel',
          available: this.#service !== undefined,
        },
      };
    }
    const service = this.#service;
    const backend = this.#backend;
    if (service === undefined || backend === undefined) {
      throw this.#unavailable ?? new IllegalArgumentError('The kernel backend is unavailable');
    }
    const caller = connection.caller;
    const callOptions = (): IpSecServiceCallOptions => ({
      replayWindowSize: 0,
      esn: false,
      keepaliveIntervalMs: 0,
      randomUint32: () => 0,
    });
    switch (op) {
      case 'reserveSpi': {
        const destination = stringField(json, 'destination');
        const spi = intField(json, 'spi', 256, 0xffffffff);
        try {
          const r = await service.allocateSpi(caller, destination, spi, callOptions());
          connection.resourceIds.add(r.resourceId);
          return { reply: { id: r.resourceId, spi: r.spi } };
        } catch (err: unknown) {
          if (err instanceof SpiUnavailableError) return { reply: { taken: true } };
          throw err;
        }
      }
      case 'releaseSpi': {
        const id = intField(json, 'id', 1, Number.MAX_SAFE_INTEGER);
        await service.releaseSpi(caller, id);
        connection.resourceIds.delete(id);
        return { reply: {} };
      }
      case 'openEncapSocket': {
        const port = intField(json, 'port', 0, 0xffff);
        const family = familyField(json);
        const r = await service.openEncapSocket(caller, port, family, callOptions());
        connection.resourceIds.add(r.resourceId);
        const socket = r.socket;
        if (!(socket instanceof DescriptorEncapSocket)) {
          throw new IllegalArgumentError('The daemon opened no descriptor');
        }
        return { reply: { id: r.resourceId, port: socket.port }, encap: socket };
      }
      case 'closeEncapSocket': {
        const id = intField(json, 'id', 1, Number.MAX_SAFE_INTEGER);
        await service.closeEncapSocket(caller, id);
        connection.resourceIds.delete(id);
        return { reply: {} };
      }
      case 'createSa':
        return { reply: await this.#createSa(connection, service, backend, frame) };
      case 'deleteSa': {
        const id = intField(json, 'id', 1, Number.MAX_SAFE_INTEGER);
        await service.deleteTransform(caller, id);
        connection.resourceIds.delete(id);
        const spiId = connection.spiOfTransform.get(id);
        connection.spiOfTransform.delete(id);
        if (spiId !== undefined && connection.resourceIds.delete(spiId)) {
          await service.releaseSpi(caller, spiId);
        }
        return { reply: {} };
      }
      case 'apply':
      case 'remove': {
        const fd = descriptors[0] ?? -1;
        const socket = checkClientSocket(fd, connection.uid);
        if (op === 'remove') {
          await service.removeTransportModeTransforms(socket);
          return { reply: {} };
        }
        const id = intField(json, 'id', 1, Number.MAX_SAFE_INTEGER);
        const direction = intField(json, 'direction', 0, 2);
        await service.applyTransportModeTransform(caller, socket, direction, id);
        return { reply: {} };
      }
      case 'state': {
        const id = intField(json, 'id', 1, Number.MAX_SAFE_INTEGER);
        const s = await service.getTransformState(caller, id);
        return {
          reply: {
            tx: s.txHighestSequenceNumber.toString(),
            rx: s.rxHighestSequenceNumber.toString(),
            packets: s.packetCount.toString(),
            bytes: s.byteCount.toString(),
            bitmap: Buffer.from(s.replayBitmap).toString('base64'),
          },
        };
      }
    }
  }

  async #createSa(
    connection: Connection,
    service: IpSecService,
    backend: DaemonBackend,
    frame: Frame,
  ): Promise<Record<string, unknown>> {
    const json = frame.json;
    const spiId = intField(json, 'spiId', 1, Number.MAX_SAFE_INTEGER);
    const source = stringField(json, 'source');
    const replayWindowSize = intField(json, 'replayWindowSize', 0, 65536);
    if (replayWindowSize !== 0 && replayWindowSize < 32) {
      throw new IllegalArgumentError('Invalid replay window size');
    }
    const esn = json.esn === true;
    const encapId =
      json.encapId === undefined
        ? undefined
        : intField(json, 'encapId', 1, Number.MAX_SAFE_INTEGER);
    const remotePort =
      json.remotePort === undefined ? undefined : intField(json, 'remotePort', 0, 0xffff);
    let offset = 0;
    const secrets: Uint8Array[] = [];
    const algorithm = (field: string): TransientAlgorithm | undefined => {
      const spec = json[field];
      if (spec === undefined) return undefined;
      if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
        throw new WireProtocolError(`Field "${field}" must be an object`);
      }
      const s = spec as Record<string, unknown>;
      const name = stringField(s, 'name');
      const keyLength = intField(s, 'keyLength', 0, 128);
      const bits = s.bits === undefined ? 0 : intField(s, 'bits', 0, 1024);
      if (offset + keyLength > frame.secret.length) {
        throw new WireProtocolError('The key bytes are shorter than announced');
      }
      const key = frame.secret.slice(offset, offset + keyLength);
      secrets.push(key);
      offset += keyLength;
      return new TransientAlgorithm(name, key, bits);
    };
    try {
      const encryption = algorithm('encryption');
      const authentication = algorithm('authentication');
      const authenticatedEncryption = algorithm('aead');
      if (offset !== frame.secret.length) {
        throw new WireProtocolError('Key bytes left over');
      }
      const r = await service.createTransform(
        connection.caller,
        {
          sourceAddress: source,
          spiResourceId: spiId,
          encryption,
          authentication,
          authenticatedEncryption,
          encapSocketResourceId: encapId,
          encapRemotePort: remotePort,
        },
        { replayWindowSize, esn, keepaliveIntervalMs: 0, randomUint32: () => 0 },
      );
      connection.resourceIds.add(r.resourceId);
      connection.spiOfTransform.set(r.resourceId, spiId);
      return {
        id: r.resourceId,
        maxPayloadLength:
          backend.maxPayloadLength(r.description.destinationAddress, r.description.spi) ?? 0,
      };
    } finally {
      for (const s of secrets) s.fill(0);
    }
  }

  /** Releases everything a connection created (binder death) and forgets it. */
  #drop(connection: Connection, why: string): void {
    if (connection.closed) return;
    connection.closed = true;
    connection.watch?.close();
    closeDescriptor(connection.fd);
    for (const d of connection.descriptors.splice(0)) closeDescriptor(d);
    connection.reader.clear();
    this.#connections.delete(connection);
    const left = (this.#perUid.get(connection.uid) ?? 1) - 1;
    if (left > 0) this.#perUid.set(connection.uid, left);
    else this.#perUid.delete(connection.uid);
    this.#log(`uid ${connection.uid} pid ${connection.pid} disconnected (${why})`);
    const service = this.#service;
    if (service === undefined) return;
    // After the requests already running (what they create is released too); queued ones see
    // `closed` and do nothing.
    const release = connection.queue.then(async () => {
      const ids = [...connection.resourceIds].sort((a, b) => b - a);
      connection.resourceIds.clear();
      if (ids.length > 0) await service.releaseAllOf(connection.caller, ids);
    });
    connection.queue = release.catch((err: unknown) => {
      this.#log(`release of uid ${connection.uid} failed: ${String(err)}`);
    });
    const settled = connection.queue;
    this.#releases.add(settled);
    void settled.finally(() => this.#releases.delete(settled));
  }

  readonly #releases = new Set<Promise<unknown>>();

  /** Stops listening, drops every connection (releasing its resources), closes the backend. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const c of [...this.#connections]) this.#drop(c, 'daemon stopping');
      await Promise.allSettled([...this.#releases]);
      await this.#backend?.close();
    })();
    return this.#closing;
  }
}

function familyField(json: Record<string, unknown>): AddressFamily {
  const family = json.family;
  if (family !== 'IPv4' && family !== 'IPv6') {
    throw new WireProtocolError('Field "family" must be "IPv4" or "IPv6"');
  }
  return family;
}

/**
 * What netd checks before it touches a socket handed over by an app: an AF_INET/AF_INET6 UDP or
 * TCP socket whose owner is the caller.
 */
function checkClientSocket(fd: number, uid: number): DescriptorSocket {
  const description = describeSocket(fd);
  if (description === undefined) {
    throw new IllegalArgumentError('Cannot apply transform: the descriptor is not a socket');
  }
  if (description.domain !== AF_INET && description.domain !== AF_INET6) {
    throw new IllegalArgumentError(
      'Cannot apply transform: the socket is not an AF_INET or AF_INET6 socket',
    );
  }
  const udp =
    description.type === SOCK_DGRAM &&
    (description.protocol === IPPROTO_UDP || description.protocol === 0);
  const tcp =
    description.type === SOCK_STREAM &&
    (description.protocol === IPPROTO_TCP || description.protocol === 0);
  if (!udp && !tcp) {
    throw new IllegalArgumentError('Cannot apply transform: the socket is neither UDP nor TCP');
  }
  if (description.ownerUid !== uid) {
    throw new SecurityError(
      `Cannot apply transform: the socket belongs to uid ${description.ownerUid}, not to the caller`,
    );
  }
  return new DescriptorSocket(fd, description.domain);
}

/** An error as the wire carries it. */
function wireError(err: unknown): WireError {
  if (err instanceof KernelBackendUnavailableError) {
    return { name: err.name, message: err.message, reason: err.reason };
  }
  if (err instanceof SpiUnavailableError) {
    return { name: err.name, message: err.message, spi: err.requestedSpi };
  }
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}
