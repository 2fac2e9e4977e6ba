/**
 * The NETLINK_ROUTE messages netd sends (include/uapi/linux/rtnetlink.h, fib_rules.h,
 * if_link.h): policy rules (`RTM_NEWRULE`/`RTM_DELRULE`/`RTM_GETRULE`), routes
 * (`RTM_NEWROUTE`/`RTM_DELROUTE`/`RTM_GETROUTE`) and the interface lookup by name
 * (`RTM_GETLINK` with `IFLA_IFNAME`). Pure: specs in, bytes out, and back.
 *
 * Every request is built exactly as iproute2 builds the equivalent `ip rule`/`ip route`
 * command (same header fields, same attributes in the same order), so iproute2 under strace is
 * the byte-for-byte oracle (test/netd/rtnetlink.test.ts). Sequence number and port id are left
 * 0: the socket stamps them.
 */
import {
  decodeAttributes,
  encodeNetlinkMessage,
  HOST_LITTLE_ENDIAN,
  type NetlinkAttribute,
  type NetlinkMessage,
  NLM_F_ACK,
  NLM_F_REQUEST,
} from '../sys/netlink/message.ts';
import type { Family, RouteSpec, RuleSpec } from './linux_net.ts';

// --- message types ---
/** `RTM_NEWLINK` (reply to `RTM_GETLINK`). */
export const RTM_NEWLINK = 16;
/** `RTM_GETLINK`. */
export const RTM_GETLINK = 18;
/** `RTM_NEWROUTE`. */
export const RTM_NEWROUTE = 24;
/** `RTM_DELROUTE`. */
export const RTM_DELROUTE = 25;
/** `RTM_GETROUTE`. */
export const RTM_GETROUTE = 26;
/** `RTM_NEWRULE`. */
export const RTM_NEWRULE = 32;
/** `RTM_DELRULE`. */
export const RTM_DELRULE = 33;
/** `RTM_GETRULE`. */
export const RTM_GETRULE = 34;

// --- nlmsg_flags for new objects ---
/** `NLM_F_EXCL`: fail with EEXIST when the object exists. */
export const NLM_F_EXCL = 0x200;
/** `NLM_F_CREATE`. */
export const NLM_F_CREATE = 0x400;

/** `AF_INET`. */
export const AF_INET = 2;
/** `AF_INET6`. */
export const AF_INET6 = 10;

// --- fib rule attributes (FRA_*) and actions ---
const FRA_IIFNAME = 3;
const FRA_PRIORITY = 6;
const FRA_FWMARK = 10;
const FRA_TABLE = 15;
const FRA_FWMASK = 16;
const FRA_OIFNAME = 17;
const FRA_UID_RANGE = 20;
const FR_ACT_TO_TBL = 1;
const FR_ACT_UNREACHABLE = 7;
/** `sizeof(struct fib_rule_hdr)`. */
const FIB_RULE_HDR_LENGTH = 12;

// --- route attributes (RTA_*), types, scopes, protocols ---
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_TABLE = 15;
const RTN_UNICAST = 1;
const RTN_UNREACHABLE = 7;
const RTN_THROW = 9;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
/** `RTPROT_STATIC`: `proto static`. */
export const RTPROT_STATIC = 4;
/** `sizeof(struct rtmsg)`. */
const RTMSG_LENGTH = 12;

// --- link attributes ---
const IFLA_IFNAME = 3;
const IFLA_EXT_MASK = 29;
/** `RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS`, as iproute2 asks. */
const LINK_EXT_MASK = 9;
/** `sizeof(struct ifinfomsg)`. */
const IFINFOMSG_LENGTH = 16;

/** Flags of a request that creates an object (`ip rule add`, `ip route add`). */
const CREATE_FLAGS = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE;
/** Flags of a delete request. */
const DELETE_FLAGS = NLM_F_REQUEST | NLM_F_ACK;

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0, HOST_LITTLE_ENDIAN);
  return out;
}

function readU32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(
    0,
    HOST_LITTLE_ENDIAN,
  );
}

/** A NUL-terminated string attribute value (interface names are bytes, latin1). */
function cString(text: string): Uint8Array {
  const bytes = Buffer.from(text, 'latin1');
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

function readCString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(end < 0 ? bytes : bytes.subarray(0, end)).toString('latin1');
}

function familyCode(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6;
}

/**
 * Address bytes of an IPv4 or IPv6 text address (already validated by the caller).
 *
 * @example
 * ```ts
 * addressBytes(6, 'fe80::1'); // 16 bytes, fe 80 0 … 0 1
 * ```
 */
export function addressBytes(family: Family, text: string): Uint8Array {
  if (family === 4) return new Uint8Array(text.split('.').map((p) => Number(p)));
  let v6 = text;
  if (v6.includes('.')) {
    // Embedded IPv4 tail (`::ffff:192.0.2.1`) → two hex groups.
    const cut = v6.lastIndexOf(':') + 1;
    const [a = 0, b = 0, c = 0, d = 0] = v6.slice(cut).split('.').map(Number);
    v6 = `${v6.slice(0, cut)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const groups = (s: string): number[] =>
    s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16));
  const gap = v6.indexOf('::');
  const head = groups(gap < 0 ? v6 : v6.slice(0, gap));
  const tail = gap < 0 ? [] : groups(v6.slice(gap + 2));
  const words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[i * 2] = (w >> 8) & 0xff;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

/**
 * `RTM_NEWRULE` / `RTM_DELRULE` for a rule, as `ip -4|-6 rule add|del <ruleArgs>` sends it.
 * Tables below 256 travel in the header, larger ones in `FRA_TABLE`.
 *
 * @example
 * ```ts
 * encodeRuleRequest('add', 4, { priority: 14000, action: 'lookup', table: 1002, iif: 'lo', oif: 'oem0' }).length; // 64
 * ```
 */
export function encodeRuleRequest(op: 'add' | 'del', family: Family, rule: RuleSpec): Uint8Array {
  const table = rule.action === 'lookup' ? (rule.table ?? 0) : 0;
  const body = new Uint8Array(FIB_RULE_HDR_LENGTH);
  body[0] = familyCode(family);
  body[4] = table < 256 ? table : 0;
  // iproute2 sets FR_ACT_TO_TBL only when adding; `unreachable` is always explicit.
  body[7] = rule.action === 'unreachable' ? FR_ACT_UNREACHABLE : op === 'add' ? FR_ACT_TO_TBL : 0;
  const attributes: NetlinkAttribute[] = [{ type: FRA_PRIORITY, value: u32(rule.priority) }];
  if (rule.fwmark !== undefined && (rule.fwmark.mark !== 0 || rule.fwmark.mask !== 0)) {
    attributes.push({ type: FRA_FWMARK, value: u32(rule.fwmark.mark) });
    attributes.push({ type: FRA_FWMASK, value: u32(rule.fwmark.mask) });
  }
  if (rule.iif !== undefined) attributes.push({ type: FRA_IIFNAME, value: cString(rule.iif) });
  if (rule.oif !== undefined) attributes.push({ type: FRA_OIFNAME, value: cString(rule.oif) });
  if (rule.uidRange !== undefined) {
    const range = new Uint8Array(8);
    range.set(u32(rule.uidRange.start), 0);
    range.set(u32(rule.uidRange.end), 4);
    attributes.push({ type: FRA_UID_RANGE, value: range });
  }
  if (table >= 256) attributes.push({ type: FRA_TABLE, value: u32(table) });
  return encodeNetlinkMessage({
    type: op === 'add' ? RTM_NEWRULE : RTM_DELRULE,
    flags: op === 'add' ? CREATE_FLAGS : DELETE_FLAGS,
    body,
    attributes,
  });
}

/** `RTM_GETRULE` dump request of one family (`ip -4|-6 rule show`). */
export function encodeRuleDumpRequest(family: Family): Uint8Array {
  const body = new Uint8Array(FIB_RULE_HDR_LENGTH);
  body[0] = familyCode(family);
  return encodeNetlinkMessage({ type: RTM_GETRULE, flags: NLM_F_REQUEST, body });
}

/** A rule as the kernel lists it. */
export interface DumpedRule {
  readonly family: Family;
  readonly priority: number;
  readonly table: number;
  /** `fib_rule_hdr.action`. */
  readonly action: number;
  /** The message's payload (header and attributes), to send back as `RTM_DELRULE`. */
  readonly payload: Uint8Array;
}

/**
 * Decodes an `RTM_NEWRULE` from a dump; `undefined` for any other message.
 *
 * @example
 * ```ts
 * decodeRule(message)?.priority; // 32766
 * ```
 */
export function decodeRule(message: NetlinkMessage): DumpedRule | undefined {
  if (message.type !== RTM_NEWRULE || message.payload.length < FIB_RULE_HDR_LENGTH)
    return undefined;
  const p = message.payload;
  let priority = 0;
  let table = p[4] ?? 0;
  for (const a of decodeAttributes(p.subarray(FIB_RULE_HDR_LENGTH))) {
    if (a.type === FRA_PRIORITY && a.value.length >= 4) priority = readU32(a.value);
    if (a.type === FRA_TABLE && a.value.length >= 4) table = readU32(a.value);
  }
  return {
    family: p[0] === AF_INET6 ? 6 : 4,
    priority,
    table,
    action: p[7] ?? 0,
    payload: p.slice(),
  };
}

/** `RTM_DELRULE` that deletes exactly a dumped rule (what `ip rule flush` sends). */
export function encodeDeleteDumpedRule(rule: DumpedRule): Uint8Array {
  return encodeNetlinkMessage({
    type: RTM_DELRULE,
    flags: DELETE_FLAGS,
    body: rule.payload.subarray(0, FIB_RULE_HDR_LENGTH),
    attributes: decodeAttributes(rule.payload.subarray(FIB_RULE_HDR_LENGTH)),
  });
}

function routeType(route: RouteSpec): number {
  if (route.type === 'unreachable') return RTN_UNREACHABLE;
  if (route.type === 'throw') return RTN_THROW;
  return RTN_UNICAST;
}

/**
 * `RTM_NEWROUTE` / `RTM_DELROUTE` for a route, as `ip -4|-6 route add|del <routeArgs>` sends it
 * (`proto static`; `ifindex` is the device's index, resolved by the caller).
 *
 * @example
 * ```ts
 * encodeRouteRequest('add', { family: 4, table: 1002, destination: '10.1.0.0/16', type: 'unicast', dev: 'oem0', scope: 'link' }, 3).length; // 52
 * ```
 */
export function encodeRouteRequest(
  op: 'add' | 'del',
  route: RouteSpec,
  ifindex: number | undefined,
): Uint8Array {
  const [address = '', lengthText = '0'] = route.destination.split('/');
  const body = new Uint8Array(RTMSG_LENGTH);
  body[0] = familyCode(route.family);
  body[1] = Number(lengthText);
  body[4] = route.table < 256 ? route.table : 0;
  body[5] = RTPROT_STATIC;
  body[6] = route.scope === 'link' ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  // iproute2 leaves the type 0 (any) on delete unless one is named.
  body[7] = op === 'add' || route.type !== 'unicast' ? routeType(route) : 0;
  const attributes: NetlinkAttribute[] = [
    { type: RTA_DST, value: addressBytes(route.family, address) },
  ];
  if (route.gateway !== undefined)
    attributes.push({ type: RTA_GATEWAY, value: addressBytes(route.family, route.gateway) });
  if (route.table >= 256) attributes.push({ type: RTA_TABLE, value: u32(route.table) });
  if (route.metric !== undefined) attributes.push({ type: RTA_PRIORITY, value: u32(route.metric) });
  if (ifindex !== undefined) attributes.push({ type: RTA_OIF, value: u32(ifindex) });
  return encodeNetlinkMessage({
    type: op === 'add' ? RTM_NEWROUTE : RTM_DELROUTE,
    flags: op === 'add' ? CREATE_FLAGS : DELETE_FLAGS,
    body,
    attributes,
  });
}

/** `RTM_GETROUTE` dump of one table (`ip -4|-6 route show table T`; needs strict checking). */
export function encodeRouteDumpRequest(family: Family, table: number): Uint8Array {
  const body = new Uint8Array(RTMSG_LENGTH);
  body[0] = familyCode(family);
  return encodeNetlinkMessage({
    type: RTM_GETROUTE,
    flags: NLM_F_REQUEST,
    body,
    attributes: [{ type: RTA_TABLE, value: u32(table) }],
  });
}

/** A route as the kernel lists it. */
export interface DumpedRoute {
  readonly family: Family;
  readonly table: number;
  /** The message's payload, to send back as `RTM_DELROUTE`. */
  readonly payload: Uint8Array;
}

/** Decodes an `RTM_NEWROUTE` from a dump; `undefined` for any other message. */
export function decodeRoute(message: NetlinkMessage): DumpedRoute | undefined {
  if (message.type !== RTM_NEWROUTE || message.payload.length < RTMSG_LENGTH) return undefined;
  const p = message.payload;
  let table = p[4] ?? 0;
  for (const a of decodeAttributes(p.subarray(RTMSG_LENGTH))) {
    if (a.type === RTA_TABLE && a.value.length >= 4) table = readU32(a.value);
  }
  return { family: p[0] === AF_INET6 ? 6 : 4, table, payload: p.slice() };
}

/** `RTM_DELROUTE` that deletes exactly a dumped route (what `ip route flush` sends). */
export function encodeDeleteDumpedRoute(route: DumpedRoute): Uint8Array {
  return encodeNetlinkMessage({
    type: RTM_DELROUTE,
    flags: DELETE_FLAGS,
    body: route.payload.subarray(0, RTMSG_LENGTH),
    attributes: decodeAttributes(route.payload.subarray(RTMSG_LENGTH)),
  });
}

/**
 * `RTM_GETLINK` of one interface by name (`ip link show dev NAME`).
 *
 * @example
 * ```ts
 * encodeLinkRequest('oem0').length; // 52
 * ```
 */
export function encodeLinkRequest(name: string): Uint8Array {
  return encodeNetlinkMessage({
    type: RTM_GETLINK,
    flags: NLM_F_REQUEST,
    body: new Uint8Array(IFINFOMSG_LENGTH),
    attributes: [
      { type: IFLA_EXT_MASK, value: u32(LINK_EXT_MASK) },
      { type: IFLA_IFNAME, value: cString(name) },
    ],
  });
}

/** The interface index and name of an `RTM_NEWLINK` reply; `undefined` for anything else. */
export function decodeLink(message: NetlinkMessage): { index: number; name: string } | undefined {
  if (message.type !== RTM_NEWLINK || message.payload.length < IFINFOMSG_LENGTH) return undefined;
  const p = message.payload;
  const index = new DataView(p.buffer, p.byteOffset, p.byteLength).getInt32(4, HOST_LITTLE_ENDIAN);
  let name = '';
  for (const a of decodeAttributes(p.subarray(IFINFOMSG_LENGTH))) {
    if (a.type === IFLA_IFNAME) name = readCString(a.value);
  }
  return { index, name };
}
