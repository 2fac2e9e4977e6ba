/**
 * The kernel backend: the {@link Backend} interface on the Linux XFRM framework,
 * with the calls and field choices of Android's netd (XfrmController): `XFRM_MSG_ALLOCSPI` with
 * min = max for reservations, `XFRM_MSG_UPDSA` over the larval state (reqid = owner tag, replay
 * window 4096 in `XFRMA_REPLAY_ESN_VAL`, ESP-in-UDP template with the encapsulation socket's port),
 * `XFRM_MSG_DELSA`, `XFRM_MSG_GETSA`, per-socket policies via `IP(V6)_XFRM_POLICY` (applied
 * transforms) and UDP sockets with `UDP_ENCAP_ESPINUDP` (encapsulation sockets). The kernel moves
 * the packets; this file only programs it.
 *
 * Linux facts this file is built around (docs/xfrm.md): an OUT socket policy without its
 * SA makes Node's `dgram.send()` retry `EAGAIN` forever, so a socket whose applied outbound SA was
 * deleted refuses sends itself (`TransformClosedError`), and SAs exist before policies name them.
 * Parity with the userspace backend (docs/kernel-backend.md): a datagram too large for one ESP
 * (-in-UDP) packet throws `MessageTooLongError` before the kernel sees it, and a socket with an
 * inbound apply pending and no inbound policy yet drops what it reads (clear text).
 */
import { createSocket, type RemoteInfo as DgramRemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { Server as NetServer, type Socket as NetSocket } from 'node:net';
import {
  type AeadName,
  ALGORITHMS,
  type AuthName,
  type CipherName,
  ESP_ALIGNMENT,
  ESP_HEADER_LENGTH,
  ESP_TRAILER_LENGTH,
} from '../esp/mod.ts';
import {
  AF_INET,
  AF_INET6,
  applySocketPolicy,
  decodeSaMessage,
  encodeAllocSpiRequest,
  encodeDeleteSaRequest,
  encodeGetSaRequest,
  encodeSocketPolicy,
  encodeUpdateSaRequest,
  NetlinkError,
  NetlinkSocket,
  probeKernelIpsecSupport,
  removeSocketPolicies,
  SocketFdUnavailableError,
  SocketOptionError,
  setUdpEncapsulation,
  socketFamily,
  socketFd,
  XFRM_POLICY_LOCALOK,
  XFRM_SHARE_UNIQUE,
  XFRM_STATE_ESN,
} from '../xfrm/mod.ts';
import { assertSupportedAlgorithms } from './_supported_algorithms.ts';
import type {
  AddressFamily,
  Backend,
  BackendDatagramSocket,
  BackendEncapSocket,
  BackendSa,
  BackendSaConfig,
  BackendStreamSocket,
  BackendTransformState,
  OpenEncapSocketOptions,
  RemoteInfo,
  SocketAddressInfo,
  TransformDirection,
} from './backend.ts';
import {
  DestinationMismatchError,
  IllegalArgumentError,
  IllegalStateError,
  IpSecError,
  MessageTooLongError,
  ResourceUnavailableError,
  TransformClosedError,
  UnsupportedOperationError,
} from './errors.ts';
import { normalizeAddress } from './inet_address.ts';

const ENOENT = 2;
const ESRCH = 3;
const EINVAL = 22;
const ENOSYS = 38;
const EPROTONOSUPPORT = 93;
/** Android's hidden CRYPT_NULL: the kernel's ESP needs a cipher even for integrity-only SAs. */
const NULL_CIPHER = 'ecb(cipher_null)';
const hex = (spi: number): string => `0x${(spi >>> 0).toString(16).padStart(8, '0')}`;
const sameAddress = (a: string, b: string): boolean =>
  a === b || (normalizeAddress(a) ?? a) === (normalizeAddress(b) ?? b);

/** Largest UDP payload of one datagram (`dgram`'s and the kernel's EMSGSIZE limit). */
const MAX_UDP_PAYLOAD = { IPv4: 65507, IPv6: 65527 } as const;
const UDP_HEADER_LENGTH = 8;

/**
 * The largest inner UDP payload whose ESP packet still fits one IP packet (RFC 4303 §2:
 * `SPI ‖ Seq ‖ IV ‖ inner ‖ padding ‖ Pad Length ‖ Next Header ‖ ICV`, `inner ‖ padding ‖ trailer`
 * a multiple of max(block size, 4)): ESP-in-UDP must fit one UDP datagram (65507 / 65527 bytes),
 * plain ESP has the 8 bytes of the outer UDP header more. The same geometry as the userspace SA,
 * so both backends refuse the same sizes; the guest test shows the kernel delivers exactly these.
 */
function maxPayloadLength(config: BackendSaConfig): number {
  const named = config.aead ?? config.encryption;
  const info = named === undefined ? undefined : ALGORITHMS.get(named.name);
  const ivLength = info?.ivLength ?? 0;
  const blockSize = info?.blockSize ?? 1;
  const icvLength =
    config.aead !== undefined
      ? config.aead.icvLengthBits >>> 3
      : (config.authentication?.truncationLengthBits ?? 0) >>> 3;
  const outer =
    MAX_UDP_PAYLOAD[config.family] + (config.encapsulation === undefined ? UDP_HEADER_LENGTH : 0);
  const alignment = Math.max(blockSize, ESP_ALIGNMENT);
  const room = outer - ESP_HEADER_LENGTH - ivLength - icvLength;
  return Math.floor(room / alignment) * alignment - ESP_TRAILER_LENGTH - UDP_HEADER_LENGTH;
}

/** Why the kernel backend cannot be used here (see {@link probeKernelIpsecSupport}). */
export type KernelBackendUnavailableReason = 'no-esp' | 'no-permission' | 'no-xfrm';

/**
 * The kernel cannot run the kernel backend: no ESP (`CONFIG_INET_ESP`), no XFRM netlink, or no
 * `CAP_NET_ADMIN`. The message names the userspace backend as the alternative.
 *
 * @example
 * ```ts
 * import { IpSecManager, KernelBackendUnavailableError } from 'tsnetd/ipsec';
 * try {
 *   await IpSecManager.create({ backend: 'kernel' });
 * } catch (err) {
 *   if (err instanceof KernelBackendUnavailableError) console.log(err.reason); // 'no-esp'
 * }
 * ```
 */
export class KernelBackendUnavailableError extends IpSecError {
  /** `'no-esp'`, `'no-permission'` or `'no-xfrm'`. */
  readonly reason: KernelBackendUnavailableReason;
  constructor(reason: KernelBackendUnavailableReason, detail: string, options?: ErrorOptions) {
    const why =
      reason === 'no-esp'
        ? 'this kernel has no ESP (CONFIG_INET_ESP)'
        : reason === 'no-permission'
          ? 'the process lacks CAP_NET_ADMIN'
          : 'this kernel has no XFRM netlink interface';
    super(
      `Cannot use the kernel IPsec backend: ${why} (${detail}); use the userspace backend instead (IpSecManager.create({ backend: 'userspace' }))`,
      'ERR_IPSEC_KERNEL_BACKEND_UNAVAILABLE',
      options,
    );
    this.name = 'KernelBackendUnavailableError';
    this.reason = reason;
  }
}

class KernelSa implements BackendSa {
  readonly spi: number;
  readonly sourceAddress: string;
  readonly destinationAddress: string;
  readonly family: AddressFamily;
  readonly reqid: number;
  readonly encapSocket: KernelEncapSocket | undefined;
  readonly remotePort: number;
  /** Largest payload one protected datagram can carry ({@link maxPayloadLength}). */
  readonly maxPayloadLength: number;
  deleted = false;
  constructor(config: BackendSaConfig, encapSocket: KernelEncapSocket | undefined) {
    this.maxPayloadLength = maxPayloadLength(config);
    this.spi = config.spi;
    this.sourceAddress = config.sourceAddress;
    this.destinationAddress = config.destinationAddress;
    this.family = config.family;
    this.reqid = config.ownerTag;
    this.encapSocket = encapSocket;
    this.remotePort = config.encapsulation?.remotePort ?? 0;
  }
}

class KernelEncapSocket implements BackendEncapSocket {
  readonly udp: Socket;
  readonly family: AddressFamily;
  readonly port: number;
  readonly #keepaliveIntervalMs: number;
  readonly #remotes = new Set<KernelSa>();
  #timer: NodeJS.Timeout | undefined;
  #receiver: ((message: Buffer, rinfo: RemoteInfo) => void) | undefined;
  #closed: Promise<void> | undefined;
  readonly #onClosed: (s: KernelEncapSocket) => void;

  constructor(
    udp: Socket,
    family: AddressFamily,
    keepaliveIntervalMs: number,
    onClosed: (s: KernelEncapSocket) => void,
  ) {
    this.udp = udp;
    this.family = family;
    this.port = udp.address().port;
    this.#keepaliveIntervalMs = keepaliveIntervalMs;
    this.#onClosed = onClosed;
    // The kernel decapsulates ESP and eats NAT-keepalives (RFC 3948 §2.2); what reaches the
    // socket is IKE, non-ESP marker included.
    udp.on('message', (msg: Buffer, rinfo: DgramRemoteInfo) =>
      this.#receiver?.(msg, { ...rinfo, family: family }),
    );
    udp.on('error', () => undefined);
  }

  sendIke(datagram: Uint8Array, port: number, address: string): Promise<void> {
    if (this.#closed !== undefined) {
      return Promise.reject(new IllegalStateError('Cannot send: the socket is closed'));
    }
    return new Promise((resolve, reject) => {
      this.udp.send(datagram, port, address, (err) => (err ? reject(err) : resolve()));
    });
  }

  setIkeReceiver(receiver: ((message: Buffer, rinfo: RemoteInfo) => void) | undefined): void {
    this.#receiver = receiver;
  }

  /** An SA now sends through this socket: keep its NAT mapping alive (RFC 3948 §2.3). */
  addSa(sa: KernelSa): void {
    this.#remotes.add(sa);
    if (this.#keepaliveIntervalMs > 0 && this.#timer === undefined && this.#closed === undefined) {
      this.#timer = setInterval(() => this.#keepalive(), this.#keepaliveIntervalMs);
      this.#timer.unref();
    }
  }

  removeSa(sa: KernelSa): void {
    this.#remotes.delete(sa);
    if (this.#remotes.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #keepalive(): void {
    const sent = new Set<string>();
    for (const sa of this.#remotes) {
      const key = `${sa.destinationAddress}|${sa.remotePort}`;
      if (sent.has(key)) continue;
      sent.add(key);
      this.udp.send(Buffer.of(0xff), sa.remotePort, sa.destinationAddress, () => undefined);
    }
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      if (this.#timer !== undefined) clearInterval(this.#timer);
      this.#timer = undefined;
      this.#receiver = undefined;
      this.#onClosed(this);
      this.udp.close(() => resolve());
    });
    return this.#closed;
  }
}

class KernelDatagramSocket extends EventEmitter implements BackendDatagramSocket {
  readonly type: 'udp4' | 'udp6';
  readonly family: AddressFamily;
  readonly udp: Socket;
  outboundSa: KernelSa | undefined;
  inboundSa: KernelSa | undefined;
  /** Previous inbound SAs, accepted until deleted (rekey overlap: the old transform keeps decrypting). */
  readonly heldInboundSas = new Set<KernelSa>();
  #bound: SocketAddressInfo | undefined;
  #binding: Promise<SocketAddressInfo> | undefined;
  #closed: Promise<void> | undefined;
  readonly #onBound: (s: KernelDatagramSocket) => void;
  readonly #onClosed: (s: KernelDatagramSocket) => void;

  constructor(
    type: 'udp4' | 'udp6',
    onBound: (s: KernelDatagramSocket) => void,
    onClosed: (s: KernelDatagramSocket) => void,
  ) {
    super();
    this.type = type;
    this.family = type === 'udp4' ? 'IPv4' : 'IPv6';
    this.#onBound = onBound;
    this.#onClosed = onClosed;
    this.udp = type === 'udp6' ? createSocket({ type, ipv6Only: true }) : createSocket({ type });
    this.udp.on('message', (msg: Buffer, rinfo: DgramRemoteInfo) => {
      // Before the first inbound policy is installed everything read is clear text: dropped once
      // the application has called apply(IN). With a policy installed the kernel already refuses
      // clear text, and what is read is decrypted ESP of the installed SA (rekey): delivered.
      if (this.#inboundPending && this.#inboundInstalled === undefined) return;
      this.emit('message', msg, { ...rinfo, family: this.family });
    });
    this.udp.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  #inboundPending = false;
  /** The inbound SA whose policy is on the descriptor now (`undefined`: none). */
  #inboundInstalled: KernelSa | undefined;

  /** Called by `IpSecDatagramSocket` from the moment apply(IN) is called until it settles. */
  setInboundPending(pending: boolean): void {
    this.#inboundPending = pending;
  }

  /** Records which inbound SA the descriptor's policy names (`undefined` after removal). */
  markInboundInstalled(sa: KernelSa | undefined): void {
    this.#inboundInstalled = sa;
  }

  get bound(): boolean {
    return this.#bound !== undefined;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  get inboundBlocked(): boolean {
    return this.inboundSa?.deleted === true;
  }

  bind(port: number, address: string | undefined): Promise<SocketAddressInfo> {
    if (this.#closed !== undefined) {
      return Promise.reject(new IllegalStateError('Cannot bind: the socket is closed'));
    }
    if (this.#binding !== undefined) {
      return Promise.reject(new IllegalStateError('Cannot bind: the socket is already bound'));
    }
    this.#binding = new Promise<SocketAddressInfo>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.#binding = undefined;
        reject(err);
      };
      this.udp.once('error', onError);
      const done = (): void => {
        this.udp.off('error', onError);
        const a = this.udp.address();
        try {
          // The descriptor exists only now: install what was applied before bind().
          this.#onBound(this);
        } catch (err: unknown) {
          reject(err);
          return;
        }
        this.#bound = { address: a.address, family: this.family, port: a.port };
        resolve(this.#bound);
      };
      if (address === undefined) this.udp.bind(port, done);
      else this.udp.bind(port, address, done);
    });
    return this.#binding;
  }

  async send(message: Uint8Array, port: number, address: string): Promise<void> {
    if (this.#closed !== undefined)
      throw new IllegalStateError('Cannot send: the socket is closed');
    const sa = this.outboundSa;
    if (sa !== undefined) {
      // Refused here: with the SA gone, the kernel answers EAGAIN and dgram would retry forever.
      if (sa.deleted) {
        throw new TransformClosedError('Cannot send: the applied outbound transform was closed');
      }
      if (!sameAddress(address, sa.destinationAddress)) {
        throw new DestinationMismatchError(
          `Cannot send to "${address}": the outbound transform protects "${sa.destinationAddress}" only`,
        );
      }
      if (message.length > sa.maxPayloadLength) {
        throw new MessageTooLongError(
          `Cannot send: the message is ${message.length} bytes, at most ${sa.maxPayloadLength} fit one ${sa.encapSocket === undefined ? 'ESP' : 'ESP-in-UDP'} datagram with the outbound transform`,
          sa.maxPayloadLength,
        );
      }
    } else if (message.length > MAX_UDP_PAYLOAD[this.family]) {
      const maxLength = MAX_UDP_PAYLOAD[this.family];
      throw new MessageTooLongError(
        `Cannot send: the message is ${message.length} bytes, at most ${maxLength} fit one ${this.family} UDP datagram`,
        maxLength,
      );
    }
    if (this.#bound === undefined) await (this.#binding ?? this.bind(0, undefined));
    const sent = new Promise<void>((resolve, reject) => {
      this.udp.send(message, port, address, (err) => (err ? reject(err) : resolve()));
    });
    this.pendingSends.add(sent);
    try {
      await sent;
    } finally {
      this.pendingSends.delete(sent);
    }
  }

  /** Sends handed to `dgram` but not yet to the kernel; a new outbound policy waits for them. */
  readonly pendingSends = new Set<Promise<void>>();

  address(): SocketAddressInfo {
    if (this.#bound === undefined) {
      throw new IllegalStateError('Cannot get address: the socket is not bound');
    }
    return this.#bound;
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#onClosed(this);
      this.udp.close(() => {
        this.emit('close');
        resolve();
      });
    });
    return this.#closed;
  }
}

/** Best effort: an OUT policy with action block, so nothing leaves the socket. */
function blockOutput(socket: NetSocket, family: number): void {
  try {
    const af = family === 6 ? AF_INET6 : AF_INET;
    applySocketPolicy(
      socket,
      encodeSocketPolicy(
        { direction: 'out', selector: { family: af }, action: 'block' },
        { destination: family === 6 ? '::' : '0.0.0.0', spi: 0, reqid: 0 },
      ),
    );
  } catch {
    // no descriptor: then connect() creates one without policy; destroy() follows at once
  }
}

/** Whether a TCP socket or server has its descriptor yet. */
function hasDescriptor(socket: BackendStreamSocket): boolean {
  try {
    socketFd(socket);
    return true;
  } catch (err: unknown) {
    if (err instanceof SocketFdUnavailableError) return false;
    throw err;
  }
}

/**
 * Gives a connecting client socket its descriptor before `connect()`: libuv creates it on bind,
 * so bind the handle to the wildcard address of the attempt's family (what `net.connect` does
 * itself when given `localAddress`).
 */
function createDescriptor(socket: NetSocket, family: number): void {
  if (hasDescriptor(socket)) return;
  const handle: unknown = (socket as unknown as { _handle?: unknown })._handle;
  const h = handle as {
    bind?: (address: string, port: number) => number;
    bind6?: (address: string, port: number, flags: number) => number;
  } | null;
  const status =
    family === 6 ? h?.bind6?.('::', 0, 0) : family === 4 ? h?.bind?.('0.0.0.0', 0) : undefined;
  if (status !== 0 || !hasDescriptor(socket)) {
    throw new IllegalStateError(
      `Cannot apply transform: no descriptor for the connecting socket (bind status ${status})`,
    );
  }
}

/** Options of {@link KernelBackend}. */
export interface KernelBackendOptions {
  /** Deadline of each netlink request in ms. Default: the xfrm layer's (2000). */
  readonly netlinkTimeoutMs?: number;
}

/**
 * Backend #2: the Linux kernel's XFRM/ESP (transport mode, plain ESP or ESP-in-UDP). Needs a
 * kernel with ESP and `CAP_NET_ADMIN`; {@link KernelBackend.create} checks both and throws
 * {@link KernelBackendUnavailableError} otherwise. Works with TCP too (the kernel protects any
 * socket), although the IpSecManager API hands out datagram sockets.
 *
 * @example
 * ```ts
 * import { IpSecManager, KernelBackend } from 'tsnetd/ipsec';
 * const backend = await KernelBackend.create();   // throws on a kernel without ESP
 * await using ipsec = await IpSecManager.create({ backend });
 * // … or simply: IpSecManager.create({ backend: 'kernel' })
 * await backend.close();
 * ```
 */
export class KernelBackend implements Backend {
  readonly name = 'kernel';
  readonly #netlink: NetlinkSocket;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #reservations = new Map<string, { destination: string; spi: number }>();
  readonly #sas = new Set<KernelSa>();
  readonly #encapSockets = new Set<KernelEncapSocket>();
  readonly #sockets = new Set<KernelDatagramSocket>();
  #closed: Promise<void> | undefined;

  private constructor(netlink: NetlinkSocket) {
    this.#netlink = netlink;
  }

  /**
   * Probes the kernel (a scratch SA, `probeKernelIpsecSupport`) and opens the backend.
   *
   * @throws {KernelBackendUnavailableError} no ESP, no XFRM, or no CAP_NET_ADMIN
   * @example
   * ```ts
   * import { KernelBackend } from 'tsnetd/ipsec';
   * const backend = await KernelBackend.create();
   * await backend.close();
   * ```
   */
  static async create(options: KernelBackendOptions = {}): Promise<KernelBackend> {
    const support = await probeKernelIpsecSupport();
    if (!support.ok) throw new KernelBackendUnavailableError(support.reason, support.message);
    return new KernelBackend(
      NetlinkSocket.open(
        options.netlinkTimeoutMs === undefined ? {} : { timeoutMs: options.netlinkTimeoutMs },
      ),
    );
  }

  /** One netlink request at a time (the socket's rule). */
  #request(message: Uint8Array, operation: string): ReturnType<NetlinkSocket['request']> {
    const run = this.#queue.then(() => this.#netlink.request(message, { operation }));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #assertOpen(action: string): void {
    if (this.#closed !== undefined) {
      throw new IllegalStateError(`Cannot ${action}: the kernel backend is closed`);
    }
  }

  async reserveSpi(destination: string, spi: number): Promise<boolean> {
    this.#assertOpen('reserve SPI');
    try {
      const [reply] = await this.#request(
        encodeAllocSpiRequest({ destination, min: spi, max: spi }),
        `allocate SPI ${hex(spi)} for ${destination}`,
      );
      const granted = reply === undefined ? undefined : decodeSaMessage(reply).spi;
      if (granted !== spi >>> 0) {
        throw new IllegalStateError(
          `Cannot reserve SPI ${hex(spi)}: the kernel granted ${granted === undefined ? 'nothing' : hex(granted)}`,
        );
      }
    } catch (err: unknown) {
      // ENOENT: "No SPI available in the requested range" — taken (Android maps it to
      // `SpiUnavailableException`).
      if (err instanceof NetlinkError && err.errno === ENOENT) return false;
      throw err;
    }
    this.#reservations.set(`${destination}|${spi >>> 0}`, { destination, spi: spi >>> 0 });
    return true;
  }

  async releaseSpi(destination: string, spi: number): Promise<void> {
    if (!this.#reservations.delete(`${destination}|${spi >>> 0}`)) return;
    await this.#deleteState(destination, spi);
  }

  async #deleteState(destination: string, spi: number): Promise<void> {
    try {
      await this.#request(
        encodeDeleteSaRequest({ destination, spi }),
        `delete SA ${hex(spi)} to ${destination}`,
      );
    } catch (err: unknown) {
      // Already gone (a larval state expired): what we wanted.
      if (!(err instanceof NetlinkError && err.errno === ESRCH)) throw err;
    }
  }

  async createSa(config: BackendSaConfig): Promise<BackendSa> {
    this.#assertOpen('create SA');
    const encap = config.encapsulation;
    if (encap !== undefined && !(encap.socket instanceof KernelEncapSocket)) {
      throw new IllegalArgumentError(
        'Cannot build transform: the encapsulation socket belongs to another backend',
      );
    }
    const encapSocket = encap?.socket instanceof KernelEncapSocket ? encap.socket : undefined;
    assertSupportedAlgorithms(config);
    const { encryption, authentication, aead } = config;
    const words = Math.ceil(config.replayWindowSize / 32);
    const spi = config.spi >>> 0;
    // The request carries the keys: zero it as soon as the kernel has answered, whatever it said.
    let request: Uint8Array | undefined;
    try {
      request = encodeUpdateSaRequest({
        destination: config.destinationAddress,
        source: config.sourceAddress,
        spi,
        reqid: config.ownerTag,
        mode: 'transport',
        replayWindow: 0,
        flags: config.esn ? XFRM_STATE_ESN : 0,
        ...(aead !== undefined
          ? {
              aead: {
                name: aead.name as AeadName,
                key: aead.key,
                icvLengthBits: aead.icvLengthBits,
              },
            }
          : {
              cipher:
                encryption !== undefined
                  ? { name: encryption.name as CipherName, key: encryption.key }
                  : { name: NULL_CIPHER, key: new Uint8Array(0) },
            }),
        ...(authentication !== undefined
          ? {
              auth: {
                name: authentication.name as AuthName,
                key: authentication.key,
                truncationLengthBits: authentication.truncationLengthBits,
              },
            }
          : {}),
        ...(encap !== undefined && encapSocket !== undefined
          ? {
              encap: {
                type: 'espinudp' as const,
                sourcePort: encapSocket.port,
                destinationPort: encap.remotePort,
              },
            }
          : {}),
        replayEsn: { replayWindow: config.replayWindowSize, bitmap: new Array(words).fill(0) },
      });
      await this.#request(request, `install SA ${hex(spi)} to ${config.destinationAddress}`);
    } catch (err: unknown) {
      if (err instanceof NetlinkError) {
        if (err.errno === ENOSYS || err.errno === EPROTONOSUPPORT) {
          throw new UnsupportedOperationError(
            `Cannot build transform: the kernel refused it (${err.message})`,
            { cause: err },
          );
        }
        if (err.errno === EINVAL) {
          throw new IllegalArgumentError(`Cannot build transform: ${err.message}`, { cause: err });
        }
      }
      throw err;
    } finally {
      request?.fill(0);
    }
    this.#reservations.delete(`${config.destinationAddress}|${spi}`);
    const sa = new KernelSa(config, encapSocket);
    this.#sas.add(sa);
    encapSocket?.addSa(sa);
    return sa;
  }

  async deleteSa(sa: BackendSa): Promise<void> {
    if (!(sa instanceof KernelSa) || sa.deleted) return;
    sa.deleted = true;
    this.#sas.delete(sa);
    sa.encapSocket?.removeSa(sa);
    for (const socket of this.#sockets) {
      // Outbound: the policy stays (fail closed); sends are refused by the socket itself.
      // Inbound current: the policy stays and names a missing SA, so the kernel drops — I/O fails.
      if (socket.heldInboundSas.delete(sa)) this.#installInbound(socket);
    }
    await this.#deleteState(sa.destinationAddress, sa.spi);
  }

  async openEncapSocket(options: OpenEncapSocketOptions): Promise<BackendEncapSocket> {
    this.#assertOpen('open UDP encapsulation socket');
    const udp =
      options.family === 'IPv6'
        ? createSocket({ type: 'udp6', ipv6Only: true })
        : createSocket({ type: 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(options.port, options.family === 'IPv6' ? '::' : '0.0.0.0', () => {
          udp.off('error', reject);
          resolve();
        });
      });
      setUdpEncapsulation(udp);
    } catch (err: unknown) {
      await new Promise<void>((resolve) => {
        try {
          udp.close(() => resolve());
        } catch {
          resolve();
        }
      });
      const code = (err as { code?: unknown }).code;
      const reason =
        code === 'EADDRINUSE'
          ? 'the port is already in use'
          : err instanceof Error
            ? err.message
            : String(err);
      throw new ResourceUnavailableError(
        `Cannot open UDP encapsulation socket on port ${options.port}: ${reason}`,
        { cause: err },
      );
    }
    const socket = new KernelEncapSocket(udp, options.family, options.keepaliveIntervalMs, (s) =>
      this.#encapSockets.delete(s),
    );
    this.#encapSockets.add(socket);
    return socket;
  }

  createDatagramSocket(type: 'udp4' | 'udp6'): BackendDatagramSocket {
    this.#assertOpen('create socket');
    const socket = new KernelDatagramSocket(
      type,
      (s) => this.#installAll(s),
      (s) => {
        this.#sockets.delete(s);
        s.outboundSa = undefined;
        s.inboundSa = undefined;
        s.heldInboundSas.clear();
      },
    );
    this.#sockets.add(socket);
    return socket;
  }

  #socket(socket: BackendDatagramSocket): KernelDatagramSocket {
    if (!(socket instanceof KernelDatagramSocket) || !this.#sockets.has(socket)) {
      throw new IllegalArgumentError(
        'Cannot use socket: it belongs to another backend or is closed',
      );
    }
    return socket;
  }

  async applyToSocket(
    socket: BackendDatagramSocket,
    direction: TransformDirection,
    sa: BackendSa,
  ): Promise<void> {
    const s = this.#socket(socket);
    if (!(sa instanceof KernelSa) || sa.deleted) {
      throw new IllegalArgumentError('Cannot apply transform: it belongs to another backend');
    }
    if (sa.family !== s.family) {
      // netd: an AF_INET socket and an IPv6 transform → EINVAL "Mismatched address family".
      throw new IllegalArgumentError(
        `Mismatched address family: an ${sa.family} transform on a ${s.type} socket`,
      );
    }
    if (direction === 'out') {
      // The kernel picks the SA at sendmsg() time, dgram may still hold earlier send() calls:
      // they belong to the previous transform (as in the userspace backend, which seals at once).
      await Promise.allSettled([...s.pendingSends]);
      const previous = s.outboundSa;
      s.outboundSa = sa;
      try {
        if (s.bound) this.#installOutbound(s);
      } catch (err: unknown) {
        s.outboundSa = previous;
        throw err;
      }
      return;
    }
    const previous = s.inboundSa;
    if (previous !== undefined && previous !== sa && !previous.deleted) {
      s.heldInboundSas.add(previous);
    }
    s.heldInboundSas.delete(sa);
    s.inboundSa = sa;
    if (s.bound) this.#installInbound(s);
  }

  async removeFromSocket(socket: BackendDatagramSocket): Promise<void> {
    const s = this.#socket(socket);
    s.outboundSa = undefined;
    s.inboundSa = undefined;
    s.heldInboundSas.clear();
    if (s.bound) this.#sockopt(() => removeSocketPolicies(s.udp));
    s.markInboundInstalled(undefined);
  }

  /**
   * TCP (Android's `applyTransportModeTransform(Socket, …)`): the policy goes on the socket's
   * descriptor. A listening server's policies are copied by the kernel to every accepted socket
   * (`sk_clone_lock`), so its SYN/SYN-ACK/ACK are protected too. A client socket before
   * `connect()` has no descriptor yet (libuv creates it in `connect`): the policies are installed
   * on `'connectionAttempt'`, emitted synchronously right before the `connect()` system call,
   * after creating the descriptor by binding to the wildcard address when the caller gave no
   * `localAddress`. Without that, the SYN would leave in clear text and the peer's protected
   * SYN-ACK would be refused (`XfrmInTmplMismatch`): the connection would hang.
   */
  async applyToStreamSocket(
    socket: BackendStreamSocket,
    direction: TransformDirection,
    sa: BackendSa,
  ): Promise<void> {
    this.#assertOpen('apply transform');
    if (!(sa instanceof KernelSa) || sa.deleted) {
      throw new IllegalArgumentError('Cannot apply transform: it belongs to another backend');
    }
    const policy = this.#policy(direction, sa, sa.spi, sa.reqid);
    if (hasDescriptor(socket)) {
      this.#installStream(socket, sa, policy);
      return;
    }
    if (socket instanceof NetServer || socket.destroyed || socket.remoteAddress !== undefined) {
      throw new IllegalStateError(
        socket instanceof NetServer
          ? 'Cannot apply transform: the server is not listening'
          : 'Cannot apply transform: the socket is closed',
      );
    }
    let pending = this.#pendingStream.get(socket);
    if (pending === undefined) {
      const entries = new Map<TransformDirection, { sa: KernelSa; policy: Uint8Array }>();
      pending = entries;
      this.#pendingStream.set(socket, entries);
      const onAttempt = (_address: string, _port: number, family: number): void => {
        try {
          for (const { sa: p, policy: bytes } of entries.values()) {
            createDescriptor(socket, family);
            this.#installStream(socket, p, bytes);
          }
        } catch (err: unknown) {
          // Fail closed: the connect() system call follows this listener and cannot be stopped
          // from here, so block the socket's output (connect fails with EPERM) and destroy it.
          blockOutput(socket, family);
          process.nextTick(() =>
            socket.destroy(err instanceof Error ? err : new Error(String(err))),
          );
        }
      };
      const done = (): void => {
        socket.off('connectionAttempt', onAttempt);
        this.#pendingStream.delete(socket);
      };
      socket.prependListener('connectionAttempt', onAttempt);
      socket.once('connect', done);
      socket.once('close', done);
    }
    pending.set(direction, { sa, policy });
  }

  async removeFromStreamSocket(socket: BackendStreamSocket): Promise<void> {
    if (!(socket instanceof NetServer)) this.#pendingStream.get(socket)?.clear();
    if (hasDescriptor(socket)) this.#sockopt(() => removeSocketPolicies(socket));
  }

  /** Client sockets that got transforms before `connect()` (installed at the attempt). */
  readonly #pendingStream = new WeakMap<
    NetSocket,
    Map<TransformDirection, { sa: KernelSa; policy: Uint8Array }>
  >();

  #installStream(socket: BackendStreamSocket, sa: KernelSa, policy: Uint8Array): void {
    if (sa.family === 'IPv6' && socketFamily(socket) === AF_INET) {
      throw new IllegalArgumentError(
        'Mismatched address family: an IPv6 transform on an IPv4 TCP socket',
      );
    }
    this.#sockopt(() => applySocketPolicy(socket, policy));
  }

  /** Installs the policies applied before the socket had a descriptor. */
  #installAll(s: KernelDatagramSocket): void {
    if (s.outboundSa !== undefined) this.#installOutbound(s);
    if (s.inboundSa !== undefined) this.#installInbound(s);
  }

  #installOutbound(s: KernelDatagramSocket): void {
    const sa = s.outboundSa;
    if (sa === undefined) return;
    this.#sockopt(() => applySocketPolicy(s.udp, this.#policy('out', sa, sa.spi, sa.reqid)));
  }

  /**
   * The inbound template names the current SA's SPI (netd). While older SAs are held for a
   * lossless rekey (Android's `applyTransportModeTransform` keeps decrypting on the old one), the
   * kernel could not match several SPIs with one template, so it names SPI 0 (any) and the owner's
   * reqid.
   */
  #installInbound(s: KernelDatagramSocket): void {
    const sa = s.inboundSa;
    if (sa === undefined || !s.bound) return;
    const held = [...s.heldInboundSas];
    const spi = held.length === 0 ? sa.spi : 0;
    const reqid = held.every((h) => h.reqid === sa.reqid) ? sa.reqid : 0;
    this.#sockopt(() => applySocketPolicy(s.udp, this.#policy('in', sa, spi, reqid)));
    s.markInboundInstalled(sa);
  }

  #policy(direction: 'in' | 'out', sa: KernelSa, spi: number, reqid: number): Uint8Array {
    const family = sa.family === 'IPv4' ? AF_INET : AF_INET6;
    return encodeSocketPolicy(
      { direction, selector: { family }, flags: XFRM_POLICY_LOCALOK, share: XFRM_SHARE_UNIQUE },
      {
        destination: sa.destinationAddress,
        source: sa.sourceAddress,
        spi,
        reqid,
        share: XFRM_SHARE_UNIQUE,
      },
    );
  }

  #sockopt(body: () => void): void {
    try {
      body();
    } catch (err: unknown) {
      if (err instanceof SocketOptionError && err.errno === EINVAL) {
        throw new IllegalArgumentError(`Cannot apply transform: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  async getTransformState(sa: BackendSa): Promise<BackendTransformState> {
    if (!(sa instanceof KernelSa) || sa.deleted) {
      throw new IllegalStateError('Cannot read SA state: the SA was deleted');
    }
    const [reply] = await this.#request(
      encodeGetSaRequest({ destination: sa.destinationAddress, spi: sa.spi }),
      `read SA ${hex(sa.spi)}`,
    );
    const state = reply === undefined ? undefined : decodeSaMessage(reply);
    const esn = state?.replayEsn;
    if (state === undefined || esn === undefined) {
      throw new IllegalStateError('Failed to get IpSecTransformState');
    }
    // Android 15's getReplayBitmap(): the raw bitmap bytes, i.e. the u32 words little-endian.
    const bitmap = new Uint8Array(esn.bmpLength * 4);
    const view = new DataView(bitmap.buffer);
    esn.bitmap.forEach((word, i) => {
      if (i < esn.bmpLength) view.setUint32(i * 4, word >>> 0, true);
    });
    return {
      txHighestSequenceNumber: (BigInt(esn.oseqHi >>> 0) << 32n) | BigInt(esn.oseq >>> 0),
      rxHighestSequenceNumber: (BigInt(esn.seqHi >>> 0) << 32n) | BigInt(esn.seq >>> 0),
      packetCount: state.current.packets,
      byteCount: state.current.bytes,
      replayBitmap: bitmap,
    };
  }

  statistics(): Readonly<Record<string, number>> {
    // The kernel counts per namespace (/proc/net/xfrm_stat), not per backend.
    return {};
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const s of [...this.#sockets]) await s.close();
      for (const sa of [...this.#sas]) {
        try {
          await this.deleteSa(sa);
        } catch {
          // keep going: every other SA must still be deleted
        }
      }
      for (const { destination, spi } of [...this.#reservations.values()]) {
        try {
          await this.#deleteState(destination, spi);
        } catch {
          // as above
        }
      }
      this.#reservations.clear();
      for (const e of [...this.#encapSockets]) await e.close();
      await this.#queue;
      this.#netlink.close();
    })();
    return this.#closed;
  }
}
