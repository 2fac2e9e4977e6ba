/**
 * The one text form of an SPI in messages, logs and key files: `0x` and eight lower-case hex
 * digits (`0x00d1201d`), as `ip xfrm state` and Wireshark's ESP SA table write it.
 */

/**
 * Formats an SPI as `0x` + eight hex digits (the value is taken as an unsigned 32-bit number).
 *
 * @example
 * ```ts
 * import { formatSpi } from 'tsnetd/esp';
 * console.log(formatSpi(0xd1201d)); // 0x00d1201d
 * ```
 */
export function formatSpi(spi: number): string {
  return `0x${(spi >>> 0).toString(16).padStart(8, '0')}`;
}
