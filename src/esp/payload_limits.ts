/**
 * How much application data one protected UDP datagram can carry, the same for every backend:
 * the userspace data path and the kernel refuse the same sizes.
 *
 * RFC 4303 §2: `SPI ‖ Seq ‖ IV ‖ inner ‖ padding ‖ Pad Length ‖ Next Header ‖ ICV`, with
 * `inner ‖ padding ‖ trailer` a multiple of max(block size, 4); the inner datagram is a UDP header
 * and the payload. ESP-in-UDP (RFC 3948) must fit one outer UDP datagram; plain ESP has the outer
 * UDP header's 8 bytes more. The largest UDP payload of one datagram is the 16-bit IPv4 total
 * length less the IPv4 (20) and UDP (8) headers, or the 16-bit IPv6 payload length less the UDP
 * header (RFC 768, RFC 791, RFC 8200); Linux refuses longer sends with `EMSGSIZE`.
 */
import {
  ESP_ALIGNMENT,
  ESP_HEADER_LENGTH,
  ESP_TRAILER_LENGTH,
  MAX_PAYLOAD_LENGTH,
} from './constants.ts';
import { UDP_HEADER_LENGTH } from './ip_packet.ts';
import { ALGORITHMS } from './transform.ts';

/** Largest UDP payload of one datagram, by family. */
export const MAX_UDP_PAYLOAD_LENGTH = { IPv4: 65507, IPv6: 65527 } as const;

/** What decides an SA's payload limit: algorithm names and ICV length, family, encapsulation. */
export interface ProtectedPayloadLimitOptions {
  /** Family of the outer packet. */
  readonly family: 'IPv4' | 'IPv6';
  /** ESP-in-UDP (`true`) or plain ESP. */
  readonly encapsulated: boolean;
  readonly cipher?: { readonly name: string };
  readonly auth?: { readonly truncationLengthBits: number };
  readonly aead?: { readonly name: string; readonly icvLengthBits: number };
}

/**
 * The largest UDP payload an application can send through one SA in one packet.
 *
 * @example
 * ```ts
 * import { maxProtectedUdpPayloadLength } from 'tsnetd/esp';
 * const aead = { name: 'rfc4106(gcm(aes))', icvLengthBits: 128 };
 * console.log(maxProtectedUdpPayloadLength({ family: 'IPv4', encapsulated: true, aead })); // 65462
 * ```
 */
export function maxProtectedUdpPayloadLength(options: ProtectedPayloadLimitOptions): number {
  const named = options.aead ?? options.cipher;
  const info = named === undefined ? undefined : ALGORITHMS.get(named.name);
  const ivLength = info?.ivLength ?? 0;
  const blockSize = info?.blockSize ?? 1;
  const icvLength =
    options.aead !== undefined
      ? options.aead.icvLengthBits >>> 3
      : (options.auth?.truncationLengthBits ?? 0) >>> 3;
  const outer =
    MAX_UDP_PAYLOAD_LENGTH[options.family] + (options.encapsulated ? 0 : UDP_HEADER_LENGTH);
  const alignment = Math.max(blockSize, ESP_ALIGNMENT);
  const room = outer - ESP_HEADER_LENGTH - ivLength - icvLength;
  const inner = Math.min(
    Math.floor(room / alignment) * alignment - ESP_TRAILER_LENGTH,
    MAX_PAYLOAD_LENGTH,
  );
  return inner - UDP_HEADER_LENGTH;
}

/**
 * The refusal text of a send that does not fit, in the words both backends use. `carrier` names
 * what it must fit: `'IPv4 UDP datagram'`, `'ESP-in-UDP datagram'`, `'ESP datagram'`, the last
 * two with the outbound transform.
 *
 * @example
 * ```ts
 * import { oversizedSendMessage } from 'tsnetd/esp';
 * console.log(oversizedSendMessage(65508, 65507, 'IPv4 UDP datagram'));
 * // Cannot send: the message is 65508 bytes, at most 65507 fit one IPv4 UDP datagram
 * ```
 */
export function oversizedSendMessage(
  length: number,
  maxLength: number,
  carrier: 'IPv4 UDP datagram' | 'IPv6 UDP datagram' | 'ESP-in-UDP datagram' | 'ESP datagram',
): string {
  const suffix = carrier.startsWith('ESP') ? ' with the outbound transform' : '';
  return `Cannot send: the message is ${length} bytes, at most ${maxLength} fit one ${carrier}${suffix}`;
}
