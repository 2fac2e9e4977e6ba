/**
 * The kernel engine: IPsec on the Linux XFRM framework, with the calls and field choices of
 * Android's netd: `XFRM_MSG_ALLOCSPI` with min = max for reservations, `XFRM_MSG_UPDSA` over the
 * larval state (reqid = owner tag, replay window in `XFRMA_REPLAY_ESN_VAL`, ESP-in-UDP template
 * with the encapsulation socket's port), `XFRM_MSG_DELSA`, `XFRM_MSG_GETSA`, per-socket policies
 * via `IP(V6)_XFRM_POLICY` and UDP sockets with `UDP_ENCAP_ESPINUDP`. The kernel moves the
 * packets; this file only programs it. Requests go through one `NetlinkSocket`, which runs them
 * one at a time.
 *
 * Linux facts this engine is built around (docs/xfrm.md): an OUT socket policy without its SA
 * makes Node's `dgram.send()` retry `EAGAIN` forever, so a socket whose applied outbound SA was
 * deleted refuses sends itself, and SAs exist before policies name them.
 */
import { readFileSync } from 'node:fs';
import { formatSpi } from '../esp/mod.ts';
import { bindWildcardUdpSocket, errnoOf, NetlinkSocket } from '../sys/mod.ts';
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
  probeKernelIpsecSupport,
  removeSocketPolicies,
  setUdpEncapsulation,
  socketFamily,
  XFRM_POLICY_LOCALOK,
  XFRM_SHARE_UNIQUE,
  XFRM_STATE_ESN,
} from '../xfrm/mod.ts';
import { KernelDatagramSocket } from './datagram_socket.ts';
import { type KeepaliveScheduler, KernelEncapSocket } from './encap_socket.ts';
import {
  KernelInvalidArgumentError,
  KernelStateError,
  KernelUnavailableError,
  KernelUnsupportedError,
} from './errors.ts';
import { KernelSa, type KernelSaOptions } from './kernel_sa.ts';
import {
  blockOutput,
  hasDescriptor,
  type KernelStreamSocket,
  PendingStreamPolicies,
} from './stream_socket.ts';

/** Android's hidden CRYPT_NULL: the kernel's ESP needs a cipher even for integrity-only SAs. */
const NULL_CIPHER = 'ecb(cipher_null)';

/** Transform direction on a socket. */
export type KernelDirection = 'in' | 'out';

/** Options of {@link KernelEngine.open}. */
export interface KernelEngineOptions {
  /** Deadline of each netlink request in ms. Default: the sys layer's (2000). */
  readonly netlinkTimeoutMs?: number;
  /** `reqid` of SPI reservations (larval states), so an owner can find them again. Default 0. */
  readonly reservationReqid?: number;
  /**
   * How often SPI reservations are renewed (ms). The kernel deletes a larval state after
   * `net.core.xfrm_acq_expires` seconds (30 by default); a reservation must outlive that.
   * Default: a third of that sysctl (read at open), 10 s when it cannot be read.
   */
  readonly reservationRefreshMs?: number;
}

/** A third of `net.core.xfrm_acq_expires` in ms (10 s when unreadable). */
function defaultRefreshMs(): number {
  try {
    const seconds = Number(readFileSync('/proc/sys/net/core/xfrm_acq_expires', 'utf8').trim());
    if (Number.isInteger(seconds) && seconds > 0) return Math.max(500, (seconds * 1000) / 3);
  } catch {
    // not readable here (a chroot without /proc/sys): the kernel's default
  }
  return 10_000;
}

/** Options of {@link KernelEngine.openEncapSocket}. */
export interface KernelEncapSocketOptions {
  /** 0 = random. */
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
  /** NAT-keepalive interval; 0 = off. */
  readonly keepaliveIntervalMs: number;
  /**
   * Who sends the keepalives: the scheduler both backends share (`NatKeepaliveScheduler.shared`
   * of the data path layer, passed in by the ipsec layer, which sees both). Without one, this
   * layer's own per-socket timer sends them.
   */
  readonly keepaliveScheduler?: (intervalMs: number) => KeepaliveScheduler;
}

/** SA state as `XFRM_MSG_GETSA` reports it. */
export interface KernelSaState {
  readonly txHighestSequenceNumber: bigint;
  readonly rxHighestSequenceNumber: bigint;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
  /** The raw replay bitmap: the kernel's u32 words, little-endian. */
  readonly replayBitmap: Uint8Array;
}

/**
 * SPIs, SAs, encapsulation sockets and protected sockets on the Linux kernel (transport mode,
 * plain ESP or ESP-in-UDP, UDP and TCP). Needs a kernel with ESP and `CAP_NET_ADMIN`.
 *
 * @example
 * ```ts
 * const engine = await KernelEngine.open(); // throws KernelUnavailableError without ESP
 * await engine.reserveSpi('192.0.2.1', 0x1234);
 * await engine.close();
 * ```
 */
export class KernelEngine {
  readonly #netlink: NetlinkSocket;
  readonly #reservations = new Map<string, Reservation>();
  readonly #reservationReqid: number;
  readonly #refreshMs: number;
  #refreshTimer: NodeJS.Timeout | undefined;
  readonly #sas = new Set<KernelSa>();
  readonly #encapSockets = new Set<KernelEncapSocket>();
  readonly #sockets = new Set<KernelDatagramSocket>();
  /** Client sockets that got transforms before `connect()` (installed at the attempt). */
  readonly #pendingStream = new PendingStreamPolicies<{ sa: KernelSa; policy: Uint8Array }>({
    install: (socket, entries) => {
      for (const { sa, policy } of entries.values()) this.#installStream(socket, sa, policy);
    },
    refuse: (socket, family, err) => {
      // Fail closed: block the socket's output (connect fails with EPERM); it is destroyed next.
      blockOutput(socket, family);
      return err instanceof Error ? err : new Error(String(err));
    },
  });
  #closed: Promise<void> | undefined;

  private constructor(netlink: NetlinkSocket, options: KernelEngineOptions) {
    this.#netlink = netlink;
    this.#reservationReqid = options.reservationReqid ?? 0;
    this.#refreshMs = options.reservationRefreshMs ?? defaultRefreshMs();
  }

  /**
   * Probes the kernel (a scratch SA, `probeKernelIpsecSupport`) and opens the engine.
   *
   * @throws {KernelUnavailableError} no ESP, no XFRM, or no CAP_NET_ADMIN
   */
  static async open(options: KernelEngineOptions = {}): Promise<KernelEngine> {
    const support = await probeKernelIpsecSupport();
    if (!support.ok) throw new KernelUnavailableError(support.reason, support.message);
    return new KernelEngine(
      NetlinkSocket.open(
        options.netlinkTimeoutMs === undefined ? {} : { timeoutMs: options.netlinkTimeoutMs },
      ),
      options,
    );
  }

  #request(message: Uint8Array, operation: string): ReturnType<NetlinkSocket['request']> {
    return this.#netlink.request(message, { operation });
  }

  #assertOpen(action: string): void {
    if (this.#closed !== undefined) {
      throw new KernelStateError(`Cannot ${action}: the kernel backend is closed`);
    }
  }

  /** `XFRM_MSG_ALLOCSPI` with min = max = `spi`; `false` when the kernel says it is taken. */
  async reserveSpi(destination: string, spi: number): Promise<boolean> {
    this.#assertOpen('reserve SPI');
    try {
      const [reply] = await this.#request(
        encodeAllocSpiRequest({ destination, min: spi, max: spi, reqid: this.#reservationReqid }),
        `allocate SPI ${formatSpi(spi)} for ${destination}`,
      );
      const granted = reply === undefined ? undefined : decodeSaMessage(reply).spi;
      if (granted !== spi >>> 0) {
        throw new KernelStateError(
          `Cannot reserve SPI ${formatSpi(spi)}: the kernel granted ${granted === undefined ? 'nothing' : formatSpi(granted)}`,
        );
      }
    } catch (err: unknown) {
      // ENOENT: "No SPI available in the requested range" — taken.
      if (errnoOf(err) === 'ENOENT') return false;
      throw err;
    }
    this.#reservations.set(`${destination}|${spi >>> 0}`, {
      destination,
      spi: spi >>> 0,
      renewedAt: Date.now(),
      lost: false,
      renewing: undefined,
    });
    this.#scheduleRenewal();
    return true;
  }

  /** Deletes a reservation no SA took over. */
  async releaseSpi(destination: string, spi: number): Promise<void> {
    const key = `${destination}|${spi >>> 0}`;
    const reservation = this.#reservations.get(key);
    if (reservation === undefined) return;
    await reservation.renewing;
    if (!this.#reservations.delete(key)) return;
    await this.#deleteState(destination, spi);
  }

  #scheduleRenewal(): void {
    if (this.#refreshTimer !== undefined || this.#closed !== undefined) return;
    if (this.#reservations.size === 0) return;
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = undefined;
      void this.#renewReservations()
        .catch(() => undefined)
        .finally(() => this.#scheduleRenewal());
    }, this.#refreshMs / 2);
    this.#refreshTimer.unref();
  }

  /**
   * Keeps reservations alive past `net.core.xfrm_acq_expires`: the kernel cannot extend a larval
   * state, so one older than the refresh interval is deleted and allocated again at once (building
   * on or releasing that reservation waits for it). Should another process take the SPI in that
   * instant, the reservation is marked lost and building on it fails.
   */
  async #renewReservations(): Promise<void> {
    const now = Date.now();
    for (const r of [...this.#reservations.values()]) {
      if (r.lost || now - r.renewedAt < this.#refreshMs || this.#closed !== undefined) continue;
      r.renewing = (async () => {
        try {
          await this.#deleteState(r.destination, r.spi);
          await this.#request(
            encodeAllocSpiRequest({
              destination: r.destination,
              min: r.spi,
              max: r.spi,
              reqid: this.#reservationReqid,
            }),
            `renew SPI ${formatSpi(r.spi)}`,
          );
          r.renewedAt = Date.now();
        } catch {
          r.lost = true;
        }
      })();
      await r.renewing;
      r.renewing = undefined;
    }
  }

  async #deleteState(destination: string, spi: number): Promise<void> {
    try {
      await this.#request(
        encodeDeleteSaRequest({ destination, spi }),
        `delete SA ${formatSpi(spi)} to ${destination}`,
      );
    } catch (err: unknown) {
      // Already gone (a larval state expired): what we wanted.
      if (errnoOf(err) !== 'ESRCH') throw err;
    }
  }

  /**
   * `XFRM_MSG_UPDSA` over the reserved SPI. The request carries the keys: it is zeroed as soon as
   * the kernel has answered, whatever it said.
   *
   * @throws {KernelUnsupportedError} the kernel lacks an algorithm (`ENOSYS`, `EPROTONOSUPPORT`)
   * @throws {KernelInvalidArgumentError} the kernel refused the SA (`EINVAL`)
   */
  async createSa(options: KernelSaOptions): Promise<KernelSa> {
    this.#assertOpen('create SA');
    const encap = options.encapsulation;
    if (encap !== undefined && !(encap.socket instanceof KernelEncapSocket)) {
      throw new KernelInvalidArgumentError(
        'Cannot build transform: the encapsulation socket belongs to another backend',
      );
    }
    const reservation = this.#reservations.get(
      `${options.destinationAddress}|${options.spi >>> 0}`,
    );
    await reservation?.renewing;
    if (reservation?.lost === true) {
      throw new KernelStateError(
        `Cannot build transform: the reservation of SPI ${formatSpi(options.spi)} was lost`,
      );
    }
    const encapPorts =
      encap !== undefined
        ? { sourcePort: encap.socket.port, destinationPort: encap.remotePort }
        : options.encapsulationPorts !== undefined
          ? {
              sourcePort: options.encapsulationPorts.localPort,
              destinationPort: options.encapsulationPorts.remotePort,
            }
          : undefined;
    const { cipher, auth, aead } = options;
    const words = Math.ceil(options.replayWindowSize / 32);
    const spi = options.spi >>> 0;
    let request: Uint8Array | undefined;
    try {
      request = encodeUpdateSaRequest({
        destination: options.destinationAddress,
        source: options.sourceAddress,
        spi,
        reqid: options.ownerTag,
        mode: 'transport',
        replayWindow: 0,
        flags: options.esn ? XFRM_STATE_ESN : 0,
        ...(aead !== undefined
          ? { aead }
          : { cipher: cipher ?? { name: NULL_CIPHER, key: new Uint8Array(0) } }),
        ...(auth !== undefined ? { auth } : {}),
        ...(encapPorts !== undefined
          ? { encap: { type: 'espinudp' as const, ...encapPorts } }
          : {}),
        replayEsn: { replayWindow: options.replayWindowSize, bitmap: new Array(words).fill(0) },
      });
      await this.#request(request, `install SA ${formatSpi(spi)} to ${options.destinationAddress}`);
    } catch (err: unknown) {
      const errno = errnoOf(err);
      if (errno === 'ENOSYS' || errno === 'EPROTONOSUPPORT') {
        throw new KernelUnsupportedError(
          `Cannot build transform: the kernel refused it (${(err as Error).message})`,
          { cause: err },
        );
      }
      if (errno === 'EINVAL') {
        throw new KernelInvalidArgumentError(`Cannot build transform: ${(err as Error).message}`, {
          cause: err,
        });
      }
      throw err;
    } finally {
      request?.fill(0);
    }
    this.#reservations.delete(`${options.destinationAddress}|${spi}`);
    const sa = new KernelSa(options);
    this.#sas.add(sa);
    sa.encapSocket?.addSa(sa);
    return sa;
  }

  /** `XFRM_MSG_DELSA`; sockets it is applied to fail I/O until their transforms are removed. */
  async deleteSa(sa: KernelSa): Promise<void> {
    if (sa.deleted) return;
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

  /**
   * Opens a UDP socket on the family's wildcard address with `UDP_ENCAP_ESPINUDP`.
   *
   * @throws {UdpBindError} the port is busy; {@link SocketOptionError} `UDP_ENCAP` was refused
   */
  async openEncapSocket(options: KernelEncapSocketOptions): Promise<KernelEncapSocket> {
    this.#assertOpen('open UDP encapsulation socket');
    const udp = await bindWildcardUdpSocket(options.family, options.port);
    try {
      setUdpEncapsulation(udp);
    } catch (err: unknown) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      throw err;
    }
    const socket = new KernelEncapSocket(
      udp,
      options.family,
      options.keepaliveIntervalMs,
      (s) => this.#encapSockets.delete(s),
      options.keepaliveScheduler,
    );
    this.#encapSockets.add(socket);
    return socket;
  }

  /** Creates a datagram socket whose policies are installed as soon as it has a descriptor. */
  createDatagramSocket(type: 'udp4' | 'udp6'): KernelDatagramSocket {
    this.#assertOpen('create socket');
    const socket = new KernelDatagramSocket(
      type,
      (s) => {
        this.#installAll(s);
        return undefined;
      },
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

  /** Whether `socket` is an open socket of this engine. */
  ownsSocket(socket: KernelDatagramSocket): boolean {
    return this.#sockets.has(socket);
  }

  /**
   * Applies an SA to a datagram socket in one direction: outbound replaces (after the sends
   * already handed to `dgram`), inbound keeps the previous SA accepted until it is deleted.
   *
   * @throws {KernelInvalidArgumentError} a deleted SA, or mismatched address families
   */
  async applyToSocket(
    s: KernelDatagramSocket,
    direction: KernelDirection,
    sa: KernelSa,
  ): Promise<void> {
    if (sa.deleted) {
      throw new KernelInvalidArgumentError('Cannot apply transform: it belongs to another backend');
    }
    if (sa.family !== s.family) {
      // netd: an AF_INET socket and an IPv6 transform → EINVAL "Mismatched address family".
      throw new KernelInvalidArgumentError(
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

  /** Removes both directions' policies from a datagram socket. */
  async removeFromSocket(s: KernelDatagramSocket): Promise<void> {
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
   *
   * @throws {KernelStateError} a server not listening, or a closed socket
   */
  async applyToStreamSocket(
    socket: KernelStreamSocket,
    direction: KernelDirection,
    sa: KernelSa,
  ): Promise<void> {
    this.#assertOpen('apply transform');
    if (sa.deleted) {
      throw new KernelInvalidArgumentError('Cannot apply transform: it belongs to another backend');
    }
    const policy = this.#policy(direction, sa, sa.spi, sa.reqid);
    if (hasDescriptor(socket)) {
      this.#installStream(socket, sa, policy);
      return;
    }
    this.#pendingStream.add(socket, direction, { sa, policy });
  }

  /** Removes both directions from a TCP socket or server (and what waits for its connect). */
  async removeFromStreamSocket(socket: KernelStreamSocket): Promise<void> {
    this.#pendingStream.clear(socket);
    if (hasDescriptor(socket)) this.#sockopt(() => removeSocketPolicies(socket));
  }

  #installStream(socket: KernelStreamSocket, sa: KernelSa, policy: Uint8Array): void {
    if (sa.family === 'IPv6' && socketFamily(socket) === AF_INET) {
      throw new KernelInvalidArgumentError(
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
   * lossless rekey (traffic on the old transform is still decrypted until it is closed), the
   * kernel could not match several SPIs with one template, so it names SPI 0 (any) and the
   * owner's reqid.
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

  /**
   * The IPsec service daemon's apply: an SA on a socket known only by its descriptor (received
   * from its owner with `SCM_RIGHTS`, or a bound `dgram.Socket`). The inbound template names
   * SPI 0 and the owner's reqid, so a rekey keeps the owner's older SA accepted until deleted.
   */
  async applyToDescriptor(fd: number, direction: KernelDirection, sa: KernelSa): Promise<void> {
    this.#assertOpen('apply transform');
    if (sa.deleted) {
      throw new KernelInvalidArgumentError('Cannot apply transform: it was deleted');
    }
    if (sa.family === 'IPv6' && socketFamily(fd) === AF_INET) {
      throw new KernelInvalidArgumentError(
        'Mismatched address family: an IPv6 transform on an IPv4 socket',
      );
    }
    const policy = this.#policy(direction, sa, direction === 'in' ? 0 : sa.spi, sa.reqid);
    this.#sockopt(() => applySocketPolicy(fd, policy));
  }

  /** Removes both directions' policies from a socket known by its descriptor. */
  async removeFromDescriptor(fd: number): Promise<void> {
    this.#assertOpen('remove transforms');
    this.#sockopt(() => removeSocketPolicies(fd));
  }

  #policy(direction: KernelDirection, sa: KernelSa, spi: number, reqid: number): Uint8Array {
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
      if (errnoOf(err) === 'EINVAL') {
        throw new KernelInvalidArgumentError(`Cannot apply transform: ${(err as Error).message}`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  /**
   * `XFRM_MSG_GETSA`: sequence numbers, lifetime counters and the replay bitmap.
   *
   * @throws {KernelStateError} the SA was deleted, or the kernel has no replay state for it
   */
  async saState(sa: KernelSa): Promise<KernelSaState> {
    if (sa.deleted) {
      throw new KernelStateError('Cannot read SA state: the SA was deleted');
    }
    const [reply] = await this.#request(
      encodeGetSaRequest({ destination: sa.destinationAddress, spi: sa.spi }),
      `read SA ${formatSpi(sa.spi)}`,
    );
    const state = reply === undefined ? undefined : decodeSaMessage(reply);
    const esn = state?.replayEsn;
    if (state === undefined || esn === undefined) {
      throw new KernelStateError('Failed to get IpSecTransformState');
    }
    // The raw bitmap bytes, i.e. the u32 words little-endian (Android's IpSecTransformState).
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

  /** Closes every socket, deletes every SA and reservation, closes netlink. Idempotent. */
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
      if (this.#refreshTimer !== undefined) clearTimeout(this.#refreshTimer);
      this.#refreshTimer = undefined;
      for (const { destination, spi, renewing } of [...this.#reservations.values()]) {
        await renewing;
        try {
          await this.#deleteState(destination, spi);
        } catch {
          // as above
        }
      }
      this.#reservations.clear();
      for (const e of [...this.#encapSockets]) await e.close();
      await this.#netlink.idle();
      this.#netlink.close();
    })();
    return this.#closed;
  }
}

/** A reservation this engine holds (renewed until an SA takes it over or it is released). */
interface Reservation {
  readonly destination: string;
  readonly spi: number;
  renewedAt: number;
  lost: boolean;
  renewing: Promise<void> | undefined;
}
