/**
 * The XFRM structs that SA and policy messages share, and the helpers that write and read them:
 * `xfrm_selector`, `xfrm_lifetime_cfg`, `xfrm_mark`, the mode and direction numbers, and the
 * checked integer and address parsing every encoder uses. Byte order, field by field (the
 * kernel's, not a choice): addresses, SPIs and ports are network order; every other integer is
 * host order ({@link HOST_LITTLE_ENDIAN}).
 */
import {
  HOST_LITTLE_ENDIAN,
  type NetlinkAttribute,
  NLM_F_ACK,
  NLM_F_REQUEST,
} from '../sys/netlink/message.ts';
import {
  LIFETIME_FIELD_LENGTH,
  MARK_MASK_OFFSET,
  MARK_VALUE_OFFSET,
  SELECTOR_DADDR_OFFSET,
  SELECTOR_DPORT_MASK_OFFSET,
  SELECTOR_DPORT_OFFSET,
  SELECTOR_FAMILY_OFFSET,
  SELECTOR_IFINDEX_OFFSET,
  SELECTOR_PREFIXLEN_D_OFFSET,
  SELECTOR_PREFIXLEN_S_OFFSET,
  SELECTOR_PROTO_OFFSET,
  SELECTOR_SADDR_OFFSET,
  SELECTOR_SPORT_MASK_OFFSET,
  SELECTOR_SPORT_OFFSET,
  SELECTOR_USER_OFFSET,
  XFRM_INF,
  XFRM_MARK_LENGTH,
  XFRM_MODE_TRANSPORT,
  XFRM_MODE_TUNNEL,
  XFRM_POLICY_FWD,
  XFRM_POLICY_IN,
  XFRM_POLICY_OUT,
  XFRMA_MARK,
} from './layout.ts';
import {
  type AddressFamilyNumber,
  AF_UNSPEC,
  formatXfrmAddress,
  parseXfrmAddress,
} from './xfrm_address.ts';

/** SA / template mode. */
export type XfrmMode = 'transport' | 'tunnel';
/** Policy direction (= Android `DIRECTION_IN` / `DIRECTION_OUT`, plus `fwd`). */
export type XfrmDirection = 'in' | 'out' | 'fwd';
/** `xfrm_mark`: the SA/policy matches packets whose mark & `mask` == `value`. */
export interface XfrmMark {
  readonly value: number;
  readonly mask: number;
}

/** `xfrm_lifetime_cfg`. Limits use {@link XFRM_INF} for "none"; expiries are seconds, 0 = none. */
export interface XfrmLifetimeConfig {
  readonly softByteLimit: bigint;
  readonly hardByteLimit: bigint;
  readonly softPacketLimit: bigint;
  readonly hardPacketLimit: bigint;
  readonly softAddExpiresSeconds: bigint;
  readonly hardAddExpiresSeconds: bigint;
  readonly softUseExpiresSeconds: bigint;
  readonly hardUseExpiresSeconds: bigint;
}

/** No limits, no expiry: what Android (and `ip xfrm state add`) put in SAs and policies. */
export const XFRM_LIFETIME_INFINITE: XfrmLifetimeConfig = Object.freeze({
  softByteLimit: XFRM_INF,
  hardByteLimit: XFRM_INF,
  softPacketLimit: XFRM_INF,
  hardPacketLimit: XFRM_INF,
  softAddExpiresSeconds: 0n,
  hardAddExpiresSeconds: 0n,
  softUseExpiresSeconds: 0n,
  hardUseExpiresSeconds: 0n,
});

/** All zero (what `ip xfrm state allocspi` sends; the kernel ignores lifetimes in ALLOCSPI). */
export const XFRM_LIFETIME_ZERO: XfrmLifetimeConfig = Object.freeze({
  softByteLimit: 0n,
  hardByteLimit: 0n,
  softPacketLimit: 0n,
  hardPacketLimit: 0n,
  softAddExpiresSeconds: 0n,
  hardAddExpiresSeconds: 0n,
  softUseExpiresSeconds: 0n,
  hardUseExpiresSeconds: 0n,
});

/** `xfrm_selector`. Every field defaults to 0; `family` to the addresses' family or AF_UNSPEC. */
export interface XfrmSelectorInit {
  readonly destination?: string;
  readonly source?: string;
  readonly destinationPrefixLength?: number;
  readonly sourcePrefixLength?: number;
  readonly destinationPort?: number;
  readonly destinationPortMask?: number;
  readonly sourcePort?: number;
  readonly sourcePortMask?: number;
  readonly proto?: number;
  readonly family?: AddressFamilyNumber;
  readonly ifindex?: number;
  readonly user?: number;
}

/** A decoded `xfrm_selector`. */
export interface XfrmSelector {
  readonly destination: string;
  readonly source: string;
  readonly destinationPrefixLength: number;
  readonly sourcePrefixLength: number;
  readonly destinationPort: number;
  readonly destinationPortMask: number;
  readonly sourcePort: number;
  readonly sourcePortMask: number;
  readonly proto: number;
  readonly family: number;
  readonly ifindex: number;
  readonly user: number;
}

/** `nlmsg_flags` of a request unless the caller chooses: `NLM_F_REQUEST | NLM_F_ACK`. */
export const DEFAULT_REQUEST_FLAGS = NLM_F_REQUEST | NLM_F_ACK;

export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function checkUint(value: number, bits: 8 | 16 | 32, what: string): number {
  const max = 2 ** bits - 1;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Cannot encode ${what}: ${value} is not an integer in 0..${max}`);
  }
  return value;
}

export function modeNumber(mode: XfrmMode | undefined): number {
  return mode === 'tunnel' ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
}

export function directionNumber(direction: XfrmDirection): number {
  if (direction === 'in') return XFRM_POLICY_IN;
  if (direction === 'out') return XFRM_POLICY_OUT;
  if (direction === 'fwd') return XFRM_POLICY_FWD;
  throw new RangeError(
    `Cannot encode policy direction "${String(direction)}": expected in, out or fwd`,
  );
}

/** Parses a destination/source pair; the source must be empty or of the destination's family. */
export function parsePair(destination: string, source: string | undefined, what: string) {
  const dst = parseXfrmAddress(destination);
  if (dst.family === AF_UNSPEC)
    throw new TypeError(`Cannot encode ${what}: the destination address is empty`);
  const src = parseXfrmAddress(source ?? '');
  if (src.family !== AF_UNSPEC && src.family !== dst.family) {
    throw new TypeError(
      `Cannot encode ${what}: source "${source}" and destination "${destination}" differ in family`,
    );
  }
  return { dst, src };
}

export function writeSelector(
  dv: DataView,
  base: number,
  init: XfrmSelectorInit | undefined,
): void {
  const s = init ?? {};
  const dst = parseXfrmAddress(s.destination ?? '');
  const src = parseXfrmAddress(s.source ?? '');
  const bytes = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
  bytes.set(dst.bytes, base + SELECTOR_DADDR_OFFSET);
  bytes.set(src.bytes, base + SELECTOR_SADDR_OFFSET);
  dv.setUint16(
    base + SELECTOR_DPORT_OFFSET,
    checkUint(s.destinationPort ?? 0, 16, 'selector port'),
    false,
  );
  dv.setUint16(
    base + SELECTOR_DPORT_MASK_OFFSET,
    checkUint(s.destinationPortMask ?? 0, 16, 'port mask'),
    false,
  );
  dv.setUint16(
    base + SELECTOR_SPORT_OFFSET,
    checkUint(s.sourcePort ?? 0, 16, 'selector port'),
    false,
  );
  dv.setUint16(
    base + SELECTOR_SPORT_MASK_OFFSET,
    checkUint(s.sourcePortMask ?? 0, 16, 'port mask'),
    false,
  );
  const family = s.family ?? (dst.family !== AF_UNSPEC ? dst.family : src.family);
  dv.setUint16(base + SELECTOR_FAMILY_OFFSET, family, HOST_LITTLE_ENDIAN);
  dv.setUint8(
    base + SELECTOR_PREFIXLEN_D_OFFSET,
    checkUint(s.destinationPrefixLength ?? 0, 8, 'prefix length'),
  );
  dv.setUint8(
    base + SELECTOR_PREFIXLEN_S_OFFSET,
    checkUint(s.sourcePrefixLength ?? 0, 8, 'prefix length'),
  );
  dv.setUint8(base + SELECTOR_PROTO_OFFSET, checkUint(s.proto ?? 0, 8, 'selector protocol'));
  dv.setInt32(base + SELECTOR_IFINDEX_OFFSET, s.ifindex ?? 0, HOST_LITTLE_ENDIAN);
  dv.setUint32(
    base + SELECTOR_USER_OFFSET,
    checkUint(s.user ?? 0, 32, 'selector user'),
    HOST_LITTLE_ENDIAN,
  );
}

/** Reads a selector; addresses are formatted in `fallbackFamily` when the selector's is AF_UNSPEC. */
export function readSelector(
  bytes: Uint8Array,
  base: number,
  fallbackFamily = AF_UNSPEC,
): XfrmSelector {
  const dv = dataView(bytes);
  const family = dv.getUint16(base + SELECTOR_FAMILY_OFFSET, HOST_LITTLE_ENDIAN);
  const addressFamily = family === AF_UNSPEC ? fallbackFamily : family;
  return {
    destination: formatXfrmAddress(bytes.subarray(base + SELECTOR_DADDR_OFFSET), addressFamily),
    source: formatXfrmAddress(bytes.subarray(base + SELECTOR_SADDR_OFFSET), addressFamily),
    destinationPrefixLength: dv.getUint8(base + SELECTOR_PREFIXLEN_D_OFFSET),
    sourcePrefixLength: dv.getUint8(base + SELECTOR_PREFIXLEN_S_OFFSET),
    destinationPort: dv.getUint16(base + SELECTOR_DPORT_OFFSET, false),
    destinationPortMask: dv.getUint16(base + SELECTOR_DPORT_MASK_OFFSET, false),
    sourcePort: dv.getUint16(base + SELECTOR_SPORT_OFFSET, false),
    sourcePortMask: dv.getUint16(base + SELECTOR_SPORT_MASK_OFFSET, false),
    proto: dv.getUint8(base + SELECTOR_PROTO_OFFSET),
    family,
    ifindex: dv.getInt32(base + SELECTOR_IFINDEX_OFFSET, HOST_LITTLE_ENDIAN),
    user: dv.getUint32(base + SELECTOR_USER_OFFSET, HOST_LITTLE_ENDIAN),
  };
}

const LIFETIME_FIELDS = [
  'softByteLimit',
  'hardByteLimit',
  'softPacketLimit',
  'hardPacketLimit',
  'softAddExpiresSeconds',
  'hardAddExpiresSeconds',
  'softUseExpiresSeconds',
  'hardUseExpiresSeconds',
] as const;

export function writeLifetime(dv: DataView, base: number, lifetime: XfrmLifetimeConfig): void {
  LIFETIME_FIELDS.forEach((field, i) => {
    dv.setBigUint64(
      base + LIFETIME_FIELD_LENGTH * i,
      BigInt.asUintN(64, lifetime[field]),
      HOST_LITTLE_ENDIAN,
    );
  });
}

export function readLifetime(dv: DataView, base: number): XfrmLifetimeConfig {
  const read = (i: number) => dv.getBigUint64(base + LIFETIME_FIELD_LENGTH * i, HOST_LITTLE_ENDIAN);
  return {
    softByteLimit: read(0),
    hardByteLimit: read(1),
    softPacketLimit: read(2),
    hardPacketLimit: read(3),
    softAddExpiresSeconds: read(4),
    hardAddExpiresSeconds: read(5),
    softUseExpiresSeconds: read(6),
    hardUseExpiresSeconds: read(7),
  };
}

/** The `XFRMA_MARK` attribute (`xfrm_mark`). */
export function markAttribute(mark: XfrmMark): NetlinkAttribute {
  const value = new Uint8Array(XFRM_MARK_LENGTH);
  const dv = dataView(value);
  dv.setUint32(MARK_VALUE_OFFSET, checkUint(mark.value, 32, 'mark'), HOST_LITTLE_ENDIAN);
  dv.setUint32(MARK_MASK_OFFSET, checkUint(mark.mask, 32, 'mark mask'), HOST_LITTLE_ENDIAN);
  return { type: XFRMA_MARK, value };
}

/** Family number of an address text (`''` → AF_UNSPEC). */
export function addressFamilyOf(address: string): AddressFamilyNumber {
  return parseXfrmAddress(address).family;
}
