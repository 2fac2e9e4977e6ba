/**
 * One security association of the userspace data path: the outbound and inbound ESP contexts
 * built from the same keys and SPI (like one kernel SA, which loopback traffic uses both ways),
 * its UDP encapsulation (RFC 3948), counters (packets and inner bytes, both directions, as the
 * kernel's SA lifetime counters), and the sockets that reference it.
 */

import {
  EspInboundSa,
  EspOutboundSa,
  type EspSaAlgorithms,
  maxProtectedUdpPayloadLength,
} from '../esp/mod.ts';
import { addressBytes } from './address_bytes.ts';
import type { EncapSocket } from './encap_socket.ts';

/** Options of {@link UserspaceSa} (validated by the caller; the ESP engine re-checks lengths). */
export interface UserspaceSaOptions extends EspSaAlgorithms {
  readonly spi: number;
  readonly sourceAddress: string;
  readonly destinationAddress: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly encapSocket: EncapSocket;
  readonly remotePort: number;
  /** 0 disables anti-replay; forced to 0 for encryption-only SAs (nothing to authenticate). */
  readonly replayWindowSize: number;
  readonly esn: boolean;
}

/**
 * A userspace SA. Created and deleted by {@link UserspaceEngine}.
 *
 * @example
 * ```ts
 * // see UserspaceEngine.createSa
 * ```
 */
export class UserspaceSa {
  readonly spi: number;
  readonly sourceAddress: string;
  readonly destinationAddress: string;
  readonly family: 'IPv4' | 'IPv6';
  /** Source address bytes (UDP pseudo-header). */
  readonly sourceBytes: Uint8Array;
  /** Destination address bytes (UDP pseudo-header). */
  readonly destinationBytes: Uint8Array;
  readonly encapSocket: EncapSocket;
  readonly remotePort: number;
  readonly outbound: EspOutboundSa;
  readonly inbound: EspInboundSa;
  /** Packets processed (sealed + opened). */
  packetCount = 0;
  /** Inner bytes processed (UDP header + payload), both directions. */
  byteCount = 0;
  /** Number of sockets this SA is applied to outbound (while > 0 its peer is a keepalive target). */
  #outboundSocketCount = 0;
  /** Protected sockets holding this SA inbound as a previous SA (rekey overlap). */
  readonly heldBy = new Set<{ readonly heldInboundSas: Set<UserspaceSa> }>();
  /**
   * Largest application payload a protected socket can send with this SA: its ESP packet
   * (inner UDP header + payload, sealed) must fit one UDP datagram of the encapsulation socket's
   * family, and the inner datagram the ESP engine's limit (`maxProtectedUdpPayloadLength`, shared
   * with the kernel backend).
   */
  readonly maxPayloadLength: number;
  #deleted = false;

  constructor(options: UserspaceSaOptions) {
    this.spi = options.spi;
    this.sourceAddress = options.sourceAddress;
    this.destinationAddress = options.destinationAddress;
    this.family = options.family;
    this.sourceBytes = addressBytes(options.sourceAddress);
    this.destinationBytes = addressBytes(options.destinationAddress);
    this.encapSocket = options.encapSocket;
    this.remotePort = options.remotePort;
    const algorithms = {
      ...(options.cipher !== undefined ? { cipher: options.cipher } : {}),
      ...(options.auth !== undefined ? { auth: options.auth } : {}),
      ...(options.aead !== undefined ? { aead: options.aead } : {}),
    };
    this.maxPayloadLength = maxProtectedUdpPayloadLength({
      family: options.encapSocket.family,
      encapsulated: true,
      ...algorithms,
    });
    const authenticated = options.auth !== undefined || options.aead !== undefined;
    this.outbound = new EspOutboundSa({ spi: options.spi, esn: options.esn, ...algorithms });
    try {
      this.inbound = new EspInboundSa({
        spi: options.spi,
        esn: options.esn,
        replayWindowSize: authenticated ? options.replayWindowSize : 0,
        ...algorithms,
      });
    } catch (err: unknown) {
      this.outbound.dispose();
      throw err;
    }
  }

  /** Number of sockets this SA is applied to outbound. */
  get outboundSocketCount(): number {
    return this.#outboundSocketCount;
  }

  /** A socket now sends with this SA: the first one makes the peer a keepalive target. */
  retainOutbound(): void {
    if (this.#outboundSocketCount++ === 0 && !this.#deleted) {
      this.encapSocket.addKeepaliveTarget(this.destinationAddress, this.remotePort);
    }
  }

  /** A socket no longer sends with this SA: the last one ends its keepalives. */
  releaseOutbound(): void {
    if (this.#outboundSocketCount === 0) return;
    if (--this.#outboundSocketCount === 0 && !this.#deleted) {
      this.encapSocket.removeKeepaliveTarget(this.destinationAddress, this.remotePort);
    }
  }

  /** Whether the SA was deleted (its transform closed). */
  get deleted(): boolean {
    return this.#deleted;
  }

  /** Deletes the SA: zeroes the keys; sockets that still reference it fail their I/O. */
  markDeleted(): void {
    if (this.#deleted) return;
    this.#deleted = true;
    if (this.#outboundSocketCount > 0) {
      this.encapSocket.removeKeepaliveTarget(this.destinationAddress, this.remotePort);
    }
    for (const socket of this.heldBy) socket.heldInboundSas.delete(this);
    this.heldBy.clear();
    this.outbound.dispose();
    this.inbound.dispose();
  }
}
