/**
 * One kernel SA as this layer remembers it: the addresses and SPI that name it in the kernel
 * (`XFRM_MSG_DELSA`/`GETSA` take destination + SPI), its owner tag (the kernel's `reqid`), the
 * encapsulation socket it sends through, and the largest payload one protected datagram can carry.
 * The keys are not kept: they went to the kernel in `XFRM_MSG_UPDSA` and were zeroed.
 */
import { type EspSaAlgorithms, maxProtectedUdpPayloadLength } from '../esp/mod.ts';
import type { KernelEncapSocket } from './encap_socket.ts';

/** What {@link KernelEngine.createSa} installs (checked by the caller; the kernel re-checks). */
export interface KernelSaOptions extends EspSaAlgorithms {
  readonly spi: number;
  readonly sourceAddress: string;
  readonly destinationAddress: string;
  readonly family: 'IPv4' | 'IPv6';
  /** ESP-in-UDP through this socket to `remotePort`; absent = plain ESP. */
  readonly encapsulation?: { readonly socket: KernelEncapSocket; readonly remotePort: number };
  /**
   * ESP-in-UDP from a socket this process does not hold (the IPsec service daemon opened it and
   * handed it to its owner), known by its port; the owner sends the NAT keepalives.
   */
  readonly encapsulationPorts?: { readonly localPort: number; readonly remotePort: number };
  /** Anti-replay window in packets. */
  readonly replayWindowSize: number;
  readonly esn: boolean;
  /** The kernel's `reqid` (Android: the owner's UID). */
  readonly ownerTag: number;
}

/**
 * An installed SA. Created and deleted by {@link KernelEngine}.
 *
 * @example
 * ```ts
 * // see KernelEngine.createSa
 * ```
 */
export class KernelSa {
  readonly spi: number;
  readonly sourceAddress: string;
  readonly destinationAddress: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly reqid: number;
  readonly encapSocket: KernelEncapSocket | undefined;
  readonly remotePort: number;
  /** Largest payload one protected datagram can carry (the userspace SA's limit too). */
  readonly maxPayloadLength: number;
  deleted = false;
  constructor(options: KernelSaOptions) {
    const encapsulation = options.encapsulation;
    this.maxPayloadLength = maxProtectedUdpPayloadLength({
      family: options.family,
      encapsulated: encapsulation !== undefined || options.encapsulationPorts !== undefined,
      ...(options.cipher !== undefined ? { cipher: options.cipher } : {}),
      ...(options.auth !== undefined ? { auth: options.auth } : {}),
      ...(options.aead !== undefined ? { aead: options.aead } : {}),
    });
    this.spi = options.spi;
    this.sourceAddress = options.sourceAddress;
    this.destinationAddress = options.destinationAddress;
    this.family = options.family;
    this.reqid = options.ownerTag;
    this.encapSocket = encapsulation?.socket;
    this.remotePort = encapsulation?.remotePort ?? options.encapsulationPorts?.remotePort ?? 0;
  }
}
