/**
 * The userspace ESP engine: SPI reservations, the SA table, encapsulation sockets and protected
 * sockets of one backend instance (the userspace one of the two backends behind one API).
 *
 * Inbound order for an ESP datagram from an encapsulation socket (RFC 3948 §2.1, RFC 4303 §3.4):
 * SPI lookup (`peekSpi`; unknown → drop `no-sa`) → `open` on each SA with that SPI (normally one;
 * the engine's drop reason otherwise) → count → next header must be UDP → parse the inner UDP
 * header (length checked) → find the socket bound to the inner destination port that holds this
 * SA inbound → deliver; a socket on that port without the SA inbound → drop `not-applied`; no
 * socket on that port → drop `no-socket`. Drops are counted on the encapsulation socket's
 * statistics, deliveries on the receiving socket's. Nothing here throws for packet content.
 *
 * The inner UDP checksum is not verified, as in the Linux kernel for UDP-encapsulated
 * transport-mode SAs (RFC 3948 §3.1.2): a peer behind a NAT computes it over its own pre-NAT
 * addresses, which the receiver never sees, and the ESP ICV already authenticates every byte of
 * the inner datagram.
 */
import { parseUdpDatagram } from '../esp/ip_packet.ts';
import { ESP_NEXT_HEADER, peekSpi } from '../esp/mod.ts';
import { EncapSocket } from './encap_socket.ts';
import { FamilyMismatchError, SocketClosedError } from './errors.ts';
import { ProtectedSocket } from './protected_socket.ts';
import { DatapathStatistics } from './statistics.ts';
import { UserspaceSa, type UserspaceSaOptions } from './userspace_sa.ts';

/** Options of {@link UserspaceEngine.openEncapSocket}. */
export interface OpenEncapSocketOptions {
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
  readonly keepaliveIntervalMs: number;
  /**
   * Where the socket's traffic is counted (create it with the engine's {@link
   * UserspaceEngine.statistics} as parent to keep the totals). Default: the engine's totals.
   */
  readonly statistics?: DatapathStatistics;
}

/** SA counters and replay state (Android 15 `IpSecTransformState` fields). */
export interface UserspaceSaState {
  readonly txHighestSequenceNumber: bigint;
  readonly rxHighestSequenceNumber: bigint;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
  readonly replayBitmap: Uint8Array;
}

/**
 * One userspace data path. Owns every socket and SA it creates; `close()` releases them all.
 *
 * @example
 * ```ts
 * import { UserspaceEngine } from 'tsnetd/datapath';
 * const engine = new UserspaceEngine();
 * const encap = await engine.openEncapSocket({ port: 0, family: 'IPv4', keepaliveIntervalMs: 0 });
 * console.log(engine.reserveSpi('127.0.0.1', 0x1234)); // true
 * await engine.close();
 * ```
 */
export class UserspaceEngine {
  readonly statistics = new DatapathStatistics();
  /** (destination, SPI) pairs reserved or held by an SA. */
  readonly #reserved = new Map<string, Set<number>>();
  /** Live SAs by SPI (inbound lookup). */
  readonly #sasBySpi = new Map<number, UserspaceSa[]>();
  readonly #encapSockets = new Set<EncapSocket>();
  readonly #sockets = new Set<ProtectedSocket>();
  /** Bound protected sockets by family, then port (no key string built per packet). */
  readonly #socketsByPort = {
    IPv4: new Map<number, Set<ProtectedSocket>>(),
    IPv6: new Map<number, Set<ProtectedSocket>>(),
  };
  #closed = false;

  /**
   * Reserves `spi` for `destination` (the kernel's `ALLOCSPI` with min = max).
   * @returns `false` when the pair is taken
   */
  reserveSpi(destination: string, spi: number): boolean {
    let set = this.#reserved.get(destination);
    if (set === undefined) {
      set = new Set();
      this.#reserved.set(destination, set);
    }
    if (set.has(spi)) return false;
    set.add(spi);
    return true;
  }

  /** Frees a reservation. */
  releaseSpi(destination: string, spi: number): void {
    const set = this.#reserved.get(destination);
    if (set === undefined) return;
    set.delete(spi);
    if (set.size === 0) this.#reserved.delete(destination);
  }

  /** Opens a UDP encapsulation socket; rejects with the `dgram` error (e.g. `EADDRINUSE`). */
  async openEncapSocket(options: OpenEncapSocketOptions): Promise<EncapSocket> {
    this.#assertOpen('open encapsulation socket');
    const socket = await EncapSocket.open({
      ...options,
      statistics: options.statistics ?? this.statistics,
      onEsp: (packet, encap) => this.#receiveEsp(packet, encap.statistics),
    });
    this.#encapSockets.add(socket);
    return socket;
  }

  /** Closes an encapsulation socket. */
  async closeEncapSocket(socket: EncapSocket): Promise<void> {
    this.#encapSockets.delete(socket);
    await socket.close();
  }

  /** Installs an SA on a reserved (destination, SPI); the reservation becomes the SA's. */
  createSa(options: UserspaceSaOptions): UserspaceSa {
    this.#assertOpen('create SA');
    const sa = new UserspaceSa(options);
    this.reserveSpi(options.destinationAddress, options.spi);
    const list = this.#sasBySpi.get(sa.spi);
    if (list === undefined) this.#sasBySpi.set(sa.spi, [sa]);
    else list.push(sa);
    return sa;
  }

  /** Deletes an SA: keys zeroed, SPI freed; sockets it is applied to fail until cleared. */
  deleteSa(sa: UserspaceSa): void {
    if (sa.deleted) return;
    sa.markDeleted();
    const list = this.#sasBySpi.get(sa.spi);
    if (list !== undefined) {
      const rest = list.filter((x) => x !== sa);
      if (rest.length === 0) this.#sasBySpi.delete(sa.spi);
      else this.#sasBySpi.set(sa.spi, rest);
    }
    this.releaseSpi(sa.destinationAddress, sa.spi);
  }

  /**
   * Creates a protected datagram socket; its traffic is counted in `statistics` (default: the
   * engine's totals).
   */
  createProtectedSocket(
    type: 'udp4' | 'udp6',
    statistics: DatapathStatistics = this.statistics,
  ): ProtectedSocket {
    this.#assertOpen('create socket');
    const socket = new ProtectedSocket(type, {
      statistics,
      onBound: (s) => {
        const byPort = this.#socketsByPort[s.family];
        const key = s.boundAddress?.port ?? 0;
        let set = byPort.get(key);
        if (set === undefined) {
          set = new Set();
          byPort.set(key, set);
        }
        set.add(s);
      },
      onClosed: (s) => {
        this.#sockets.delete(s);
        this.#removeFromSocket(s);
        const byPort = this.#socketsByPort[s.family];
        const key = s.boundAddress?.port ?? 0;
        const set = byPort.get(key);
        set?.delete(s);
        if (set?.size === 0) byPort.delete(key);
      },
    });
    this.#sockets.add(socket);
    return socket;
  }

  /**
   * Applies an SA to a socket. Outbound replaces the previous SA at once; inbound keeps the
   * previous (live) SA held until it is deleted (lossless rekey).
   *
   * @throws {FamilyMismatchError} the SA family differs from the socket's
   * @throws {SocketClosedError} the socket is closed
   */
  applyToSocket(socket: ProtectedSocket, direction: 'in' | 'out', sa: UserspaceSa): void {
    if (socket.closed) throw new SocketClosedError('Cannot apply transform: the socket is closed');
    if (sa.family !== socket.family) {
      throw new FamilyMismatchError(
        `Cannot apply transform: an ${sa.family} transform on a ${socket.type} socket`,
      );
    }
    if (direction === 'out') {
      if (socket.outboundSa === sa) return;
      sa.retainOutbound();
      socket.outboundSa?.releaseOutbound();
      socket.outboundSa = sa;
      return;
    }
    const previous = socket.inboundSa;
    if (previous !== undefined && previous !== sa && !previous.deleted) {
      socket.heldInboundSas.add(previous);
      previous.heldBy.add(socket);
    }
    socket.heldInboundSas.delete(sa);
    sa.heldBy.delete(socket);
    socket.inboundSa = sa;
  }

  /** Removes both directions from a socket (clear text again). */
  removeFromSocket(socket: ProtectedSocket): void {
    this.#removeFromSocket(socket);
  }

  #removeFromSocket(socket: ProtectedSocket): void {
    socket.outboundSa?.releaseOutbound();
    socket.outboundSa = undefined;
    socket.inboundSa = undefined;
    for (const held of socket.heldInboundSas) held.heldBy.delete(socket);
    socket.heldInboundSas.clear();
  }

  /** State of an SA (counters, sequence numbers, replay bitmap). */
  saState(sa: UserspaceSa): UserspaceSaState {
    if (sa.deleted) throw new SocketClosedError('Cannot read SA state: the SA was deleted');
    return {
      txHighestSequenceNumber: sa.outbound.lastSequenceNumber,
      rxHighestSequenceNumber: sa.inbound.highestSequenceNumber,
      packetCount: BigInt(sa.packetCount),
      byteCount: BigInt(sa.byteCount),
      replayBitmap: sa.inbound.replayBitmap(),
    };
  }

  /** Drops are counted where the datagram arrived (`stats`: its encapsulation socket's). */
  #receiveEsp(packet: Uint8Array, stats: DatapathStatistics): void {
    const spi = peekSpi(packet);
    const candidates = spi === undefined ? undefined : this.#sasBySpi.get(spi);
    if (candidates === undefined) {
      stats.drop('no-sa');
      return;
    }
    let sa: UserspaceSa | undefined;
    let payload: Uint8Array | undefined;
    let nextHeader = 0;
    let reason: 'truncated' | 'no-sa' | 'replay' | 'auth' | 'bad-padding' | 'dummy' = 'no-sa';
    for (const candidate of candidates) {
      const r = candidate.inbound.open(packet);
      if (r.ok) {
        sa = candidate;
        payload = r.payload;
        nextHeader = r.nextHeader;
        break;
      }
      reason = r.reason;
    }
    if (sa === undefined || payload === undefined) {
      stats.drop(reason);
      return;
    }
    sa.packetCount++;
    sa.byteCount += payload.length;
    if (nextHeader !== ESP_NEXT_HEADER.UDP) {
      stats.drop('not-udp');
      return;
    }
    const udp = parseUdpDatagram(payload);
    if (udp === undefined) {
      stats.drop('bad-inner-udp');
      return;
    }
    const candidatesAtPort = this.#socketsByPort[sa.family].get(udp.dstPort);
    if (candidatesAtPort !== undefined && candidatesAtPort.size > 0) {
      for (const socket of candidatesAtPort) {
        if (socket.holdsInbound(sa)) {
          socket.deliver(udp.payload, {
            address: sa.sourceAddress,
            family: sa.family,
            port: udp.srcPort,
            size: udp.payload.length,
          });
          return;
        }
      }
      // A socket listens on that port, but this SA is not applied to it inbound.
      stats.drop('not-applied');
      return;
    }
    stats.drop('no-socket');
  }

  #assertOpen(action: string): void {
    if (this.#closed) throw new SocketClosedError(`Cannot ${action}: the engine is closed`);
  }

  /** Closes every socket and deletes every SA. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const list of [...this.#sasBySpi.values()]) for (const sa of list) this.deleteSa(sa);
    await Promise.all([...this.#sockets].map((s) => s.close()));
    await Promise.all([...this.#encapSockets].map((s) => s.close()));
    this.#encapSockets.clear();
  }
}
