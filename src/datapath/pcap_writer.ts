/**
 * Classic libpcap file encoder (not pcapng), link type LINKTYPE_RAW (101): each record is a
 * bare IPv4 or IPv6 packet, told apart by its version nibble. Microsecond timestamps.
 *
 * Format: the "libpcap File Format" (draft-ietf-opsawg-pcap, §4 file header, §5 packet
 * record); link types from the tcpdump.org LINKTYPE list. Written little-endian with magic
 * 0xA1B2C3D4, which every reader (tshark, tcpdump, scapy) detects by byte order.
 *
 * Pure: returns bytes, writes no file. Used to hand recorded ESP traffic to tshark and to
 * export datapath captures.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------
// Spec constants
// ---------------------------------------------------------------------------------------------

/** Magic number for microsecond-resolution pcap files. */
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
/** Major version of the format. */
export const PCAP_VERSION_MAJOR = 2;
/** Minor version of the format. */
export const PCAP_VERSION_MINOR = 4;
/** Length of the file header. */
export const PCAP_FILE_HEADER_LENGTH = 24;
/** Length of each packet record header. */
export const PCAP_RECORD_HEADER_LENGTH = 16;
/** LINKTYPE_RAW: raw IPv4/IPv6, no link-layer header. */
export const LINKTYPE_RAW = 101;

// ---------------------------------------------------------------------------------------------
// Implementation limits
// ---------------------------------------------------------------------------------------------

/** Snapshot length written in the header; packets longer than this are refused. */
export const PCAP_SNAPLEN = 262_144;

/** One packet to write: an IPv4 or IPv6 packet and when it was seen. */
export interface PcapRecord {
  /** Milliseconds since the Unix epoch; fractions are kept to the microsecond. */
  readonly timestampMs: number;
  /** The raw IP packet (no link header); copied, not retained. */
  readonly packet: Uint8Array;
}

/**
 * Encodes packets as a classic pcap file with link type LINKTYPE_RAW (101).
 *
 * @param records packets in capture order; not modified
 * @returns the file contents, a new buffer owned by the caller
 * @throws {RangeError} if a timestamp is negative, not finite, or past 2106 (32-bit seconds),
 *   or a packet is longer than {@link PCAP_SNAPLEN}
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { encodePcap } from 'tsnetd/datapath';
 * import { buildIpv4Packet } from 'tsnetd/esp';
 * const lo = Uint8Array.of(127, 0, 0, 1);
 * const ipv4Packet = buildIpv4Packet({ src: lo, dst: lo, protocol: 50, payload: new Uint8Array(24) });
 * const pcap = encodePcap([{ timestampMs: Date.now(), packet: ipv4Packet }]);
 * assert.equal(pcap.length, 24 + 16 + ipv4Packet.length); // file header, record header, packet
 * // writeFileSync('esp.pcap', pcap) and open it in Wireshark or tshark
 * ```
 */
export function encodePcap(records: readonly PcapRecord[]): Uint8Array {
  let total = PCAP_FILE_HEADER_LENGTH;
  for (const [index, record] of records.entries()) {
    const ms = record.timestampMs;
    if (!Number.isFinite(ms) || ms < 0 || Math.round(ms * 1000) / 1_000_000 >= 2 ** 32) {
      throw new RangeError(`Invalid timestamp of record ${index}: ${String(ms)}`);
    }
    if (record.packet.length > PCAP_SNAPLEN) {
      throw new RangeError(
        `Invalid packet of record ${index}: ${record.packet.length} bytes exceeds ${PCAP_SNAPLEN}`,
      );
    }
    total += PCAP_RECORD_HEADER_LENGTH + record.packet.length;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, PCAP_MAGIC_MICROSECONDS, true);
  view.setUint16(4, PCAP_VERSION_MAJOR, true);
  view.setUint16(6, PCAP_VERSION_MINOR, true);
  view.setInt32(8, 0, true); // thiszone: UTC
  view.setUint32(12, 0, true); // sigfigs
  view.setUint32(16, PCAP_SNAPLEN, true);
  view.setUint32(20, LINKTYPE_RAW, true);
  let offset = PCAP_FILE_HEADER_LENGTH;
  for (const { timestampMs, packet } of records) {
    const totalMicros = Math.round(timestampMs * 1000);
    const seconds = Math.floor(totalMicros / 1_000_000);
    view.setUint32(offset, seconds, true);
    view.setUint32(offset + 4, totalMicros - seconds * 1_000_000, true);
    view.setUint32(offset + 8, packet.length, true); // captured length
    view.setUint32(offset + 12, packet.length, true); // original length
    out.set(packet, offset + PCAP_RECORD_HEADER_LENGTH);
    offset += PCAP_RECORD_HEADER_LENGTH + packet.length;
  }
  return out;
}
