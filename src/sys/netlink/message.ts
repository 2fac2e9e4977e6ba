/**
 * Netlink framing (include/uapi/linux/netlink.h, RFC 3549 §2.3.2): `struct nlmsghdr`, netlink
 * attributes (`struct nlattr` / `rtattr`, same layout) with 4-byte alignment, and the
 * `NLMSG_ERROR` reply (`struct nlmsgerr` + extended-ack TLVs). Pure: bytes in, bytes out.
 *
 * Byte order: every field of the netlink header, the attribute header and `nlmsgerr` is in the
 * host's native order (little-endian on x86_64 and arm64); {@link HOST_LITTLE_ENDIAN} says which.
 * Payloads define their own order (XFRM addresses, SPIs and ports are big-endian, see
 * `../messages.ts`).
 *
 * Ownership: decoders return views into the caller's buffer (no copies); encoders return new
 * buffers.
 */
import { MalformedNetlinkMessageError } from '../errors.ts';

/** True when the host stores multi-byte integers little-endian (netlink's native order). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// --- struct nlmsghdr (16 bytes) ---
/** `NLMSG_HDRLEN`: `sizeof(struct nlmsghdr)`. */
export const NLMSG_HEADER_LENGTH = 16;
/** Offset of `nlmsg_len` (u32, host order): header + payload length, without trailing padding. */
export const NLMSG_LENGTH_OFFSET = 0;
/** Offset of `nlmsg_type` (u16, host order). */
export const NLMSG_TYPE_OFFSET = 4;
/** Offset of `nlmsg_flags` (u16, host order). */
export const NLMSG_FLAGS_OFFSET = 6;
/** Offset of `nlmsg_seq` (u32, host order). */
export const NLMSG_SEQ_OFFSET = 8;
/** Offset of `nlmsg_pid` (u32, host order). */
export const NLMSG_PID_OFFSET = 12;
/** `NLMSG_ALIGNTO` / `NLA_ALIGNTO`. */
export const NLMSG_ALIGNMENT = 4;

// --- message types ---
/** `NLMSG_NOOP`. */
export const NLMSG_NOOP = 1;
/** `NLMSG_ERROR`: error (or ACK when the error is 0). */
export const NLMSG_ERROR = 2;
/** `NLMSG_DONE`: end of a multipart (dump) reply. */
export const NLMSG_DONE = 3;
/** `NLMSG_OVERRUN`. */
export const NLMSG_OVERRUN = 4;

// --- nlmsg_flags ---
/** `NLM_F_REQUEST`. */
export const NLM_F_REQUEST = 0x1;
/** `NLM_F_MULTI`: part of a multipart reply ended by `NLMSG_DONE`. */
export const NLM_F_MULTI = 0x2;
/** `NLM_F_ACK`: ask for an `NLMSG_ERROR` with error 0 on success. */
export const NLM_F_ACK = 0x4;
/** `NLM_F_DUMP_INTR`: the dump was interrupted by a change; results may be inconsistent. */
export const NLM_F_DUMP_INTR = 0x10;
/** `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`). */
export const NLM_F_DUMP = 0x300;
/** `NLM_F_CAPPED` (on `NLMSG_ERROR`): only the request's header is echoed. */
export const NLM_F_CAPPED = 0x100;
/** `NLM_F_ACK_TLVS` (on `NLMSG_ERROR`): extended-ack attributes follow. */
export const NLM_F_ACK_TLVS = 0x200;

// --- struct nlattr (4 bytes) ---
/** `NLA_HDRLEN`. */
export const NLA_HEADER_LENGTH = 4;
/** Offset of `nla_len` (u16, host order): header + value length, without padding. */
export const NLA_LENGTH_OFFSET = 0;
/** Offset of `nla_type` (u16, host order). */
export const NLA_TYPE_OFFSET = 2;
/** `NLA_TYPE_MASK`: the type bits without `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER`. */
export const NLA_TYPE_MASK = 0x3fff;

// --- struct nlmsgerr ---
/** Offset of `nlmsgerr.error` (s32, host order, negative errno or 0) in the payload. */
export const NLMSGERR_ERROR_OFFSET = 0;
/** Offset of `nlmsgerr.msg` (the request's `nlmsghdr`) in the payload. */
export const NLMSGERR_REQUEST_OFFSET = 4;
/** `NLMSGERR_ATTR_MSG`: extended-ack message, NUL-terminated string. */
export const NLMSGERR_ATTR_MSG = 1;
/** `NLMSGERR_ATTR_OFFS`: u32 offset of the offending attribute in the request. */
export const NLMSGERR_ATTR_OFFS = 2;

// --- implementation limits ---
/** Largest message this codec encodes (netlink lengths are u32; XFRM requests stay far below). */
export const MAX_NETLINK_MESSAGE_LENGTH = 0x10000;

/** One netlink attribute: type (flags included) and value bytes (a view when decoded). */
export interface NetlinkAttribute {
  readonly type: number;
  readonly value: Uint8Array;
}

/** A decoded netlink message; `payload` is a view of the bytes after the 16-byte header. */
export interface NetlinkMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  readonly payload: Uint8Array;
}

/** What {@link encodeNetlinkMessage} needs. */
export interface NetlinkMessageInit {
  readonly type: number;
  readonly flags: number;
  /** Default 0 (the socket stamps its own sequence number). */
  readonly seq?: number;
  /** Default 0 (the kernel). */
  readonly pid?: number;
  /** The fixed-size family header (e.g. `xfrm_usersa_info`); padded to 4 bytes. */
  readonly body: Uint8Array;
  /** Attributes appended after the body, in order. */
  readonly attributes?: readonly NetlinkAttribute[];
}

/** `NLMSG_ALIGN` / `NLA_ALIGN`: rounds up to a multiple of 4. */
export function align4(length: number): number {
  return (length + NLMSG_ALIGNMENT - 1) & ~(NLMSG_ALIGNMENT - 1);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Encodes attributes back to back, each padded to 4 bytes (padding bytes are zero).
 *
 * @throws {RangeError} when a value is longer than an attribute can hold (65531 bytes).
 * @example
 * ```ts
 * encodeAttributes([{ type: 21, value: new Uint8Array(8) }]).length; // 12
 * ```
 */
export function encodeAttributes(attributes: readonly NetlinkAttribute[]): Uint8Array {
  let total = 0;
  for (const a of attributes) {
    if (a.value.length > 0xffff - NLA_HEADER_LENGTH) {
      throw new RangeError(
        `Cannot encode attribute ${a.type}: value of ${a.value.length} bytes is too long`,
      );
    }
    total += align4(NLA_HEADER_LENGTH + a.value.length);
  }
  const out = new Uint8Array(total);
  const dv = view(out);
  let offset = 0;
  for (const a of attributes) {
    dv.setUint16(
      offset + NLA_LENGTH_OFFSET,
      NLA_HEADER_LENGTH + a.value.length,
      HOST_LITTLE_ENDIAN,
    );
    dv.setUint16(offset + NLA_TYPE_OFFSET, a.type, HOST_LITTLE_ENDIAN);
    out.set(a.value, offset + NLA_HEADER_LENGTH);
    offset += align4(NLA_HEADER_LENGTH + a.value.length);
  }
  return out;
}

/**
 * Decodes a run of attributes. Values are views into `bytes`. Trailing bytes shorter than an
 * attribute header are ignored (as the kernel's `nla_for_each_attr` does).
 *
 * @throws {MalformedNetlinkMessageError} when an attribute's length is below 4 or runs past `bytes`.
 * @example
 * ```ts
 * decodeAttributes(encodeAttributes([{ type: 1, value: new Uint8Array([7]) }]))[0]?.value; // [7]
 * ```
 */
export function decodeAttributes(bytes: Uint8Array): NetlinkAttribute[] {
  const dv = view(bytes);
  const out: NetlinkAttribute[] = [];
  let offset = 0;
  while (offset + NLA_HEADER_LENGTH <= bytes.length) {
    const length = dv.getUint16(offset + NLA_LENGTH_OFFSET, HOST_LITTLE_ENDIAN);
    const type = dv.getUint16(offset + NLA_TYPE_OFFSET, HOST_LITTLE_ENDIAN);
    if (length < NLA_HEADER_LENGTH || offset + length > bytes.length) {
      throw new MalformedNetlinkMessageError(
        `Cannot decode attribute at offset ${offset}: length ${length} does not fit in ${bytes.length - offset} bytes`,
      );
    }
    out.push({ type, value: bytes.subarray(offset + NLA_HEADER_LENGTH, offset + length) });
    offset += align4(length);
  }
  return out;
}

/**
 * Builds one netlink message: header, body padded to 4 bytes, attributes.
 *
 * @throws {RangeError} when the message would exceed {@link MAX_NETLINK_MESSAGE_LENGTH}.
 * @example
 * ```ts
 * const m = encodeNetlinkMessage({ type: 0x12, flags: NLM_F_REQUEST, body: new Uint8Array(24) });
 * m.length; // 40
 * ```
 */
export function encodeNetlinkMessage(init: NetlinkMessageInit): Uint8Array {
  const attributes = encodeAttributes(init.attributes ?? []);
  const bodyLength = align4(init.body.length);
  const length = NLMSG_HEADER_LENGTH + bodyLength + attributes.length;
  if (length > MAX_NETLINK_MESSAGE_LENGTH) {
    throw new RangeError(
      `Cannot encode netlink message: ${length} bytes is over ${MAX_NETLINK_MESSAGE_LENGTH}`,
    );
  }
  const out = new Uint8Array(length);
  const dv = view(out);
  dv.setUint32(NLMSG_LENGTH_OFFSET, length, HOST_LITTLE_ENDIAN);
  dv.setUint16(NLMSG_TYPE_OFFSET, init.type, HOST_LITTLE_ENDIAN);
  dv.setUint16(NLMSG_FLAGS_OFFSET, init.flags, HOST_LITTLE_ENDIAN);
  dv.setUint32(NLMSG_SEQ_OFFSET, init.seq ?? 0, HOST_LITTLE_ENDIAN);
  dv.setUint32(NLMSG_PID_OFFSET, init.pid ?? 0, HOST_LITTLE_ENDIAN);
  out.set(init.body, NLMSG_HEADER_LENGTH);
  out.set(attributes, NLMSG_HEADER_LENGTH + bodyLength);
  return out;
}

/**
 * Returns a copy of an encoded message with `nlmsg_seq` and `nlmsg_flags` replaced (the socket
 * stamps every request this way).
 *
 * @throws {MalformedNetlinkMessageError} when `message` is shorter than a header.
 * @example
 * ```ts
 * const stamped = withNetlinkHeader(message, { seq: 7, flags: NLM_F_REQUEST | NLM_F_ACK });
 * ```
 */
export function withNetlinkHeader(
  message: Uint8Array,
  header: { readonly seq: number; readonly flags: number },
): Uint8Array {
  if (message.length < NLMSG_HEADER_LENGTH) {
    throw new MalformedNetlinkMessageError(
      `Cannot restamp message: ${message.length} bytes is shorter than a header`,
    );
  }
  const out = message.slice();
  const dv = view(out);
  dv.setUint32(NLMSG_SEQ_OFFSET, header.seq, HOST_LITTLE_ENDIAN);
  dv.setUint16(NLMSG_FLAGS_OFFSET, header.flags, HOST_LITTLE_ENDIAN);
  return out;
}

/**
 * Splits a datagram received from a netlink socket into messages. Payloads are views into `bytes`.
 *
 * @throws {MalformedNetlinkMessageError} on a truncated header or a length that runs past `bytes`.
 * @example
 * ```ts
 * decodeNetlinkMessages(received).filter((m) => m.type === XFRM_MSG_NEWSA);
 * ```
 */
export function decodeNetlinkMessages(bytes: Uint8Array): NetlinkMessage[] {
  const dv = view(bytes);
  const out: NetlinkMessage[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + NLMSG_HEADER_LENGTH > bytes.length) {
      throw new MalformedNetlinkMessageError(
        `Cannot decode netlink message at offset ${offset}: ${bytes.length - offset} bytes is shorter than a header`,
      );
    }
    const length = dv.getUint32(offset + NLMSG_LENGTH_OFFSET, HOST_LITTLE_ENDIAN);
    if (length < NLMSG_HEADER_LENGTH || offset + length > bytes.length) {
      throw new MalformedNetlinkMessageError(
        `Cannot decode netlink message at offset ${offset}: length ${length} does not fit in ${bytes.length - offset} bytes`,
      );
    }
    out.push({
      type: dv.getUint16(offset + NLMSG_TYPE_OFFSET, HOST_LITTLE_ENDIAN),
      flags: dv.getUint16(offset + NLMSG_FLAGS_OFFSET, HOST_LITTLE_ENDIAN),
      seq: dv.getUint32(offset + NLMSG_SEQ_OFFSET, HOST_LITTLE_ENDIAN),
      pid: dv.getUint32(offset + NLMSG_PID_OFFSET, HOST_LITTLE_ENDIAN),
      payload: bytes.subarray(offset + NLMSG_HEADER_LENGTH, offset + length),
    });
    offset += align4(length);
  }
  return out;
}

/** A decoded `NLMSG_ERROR`. `errno` is positive; 0 means ACK. */
export interface NetlinkErrorReply {
  readonly errno: number;
  /** `nlmsg_type` of the request the kernel answers. */
  readonly requestType: number;
  /** `nlmsg_seq` of the request the kernel answers. */
  readonly requestSeq: number;
  /** Extended-ack text (`NLMSGERR_ATTR_MSG`), when present. */
  readonly kernelMessage?: string;
}

/**
 * Decodes the payload of an `NLMSG_ERROR` message (`struct nlmsgerr`: s32 error, the request's
 * header, the rest of the request unless `NLM_F_CAPPED`, then extended-ack TLVs when
 * `NLM_F_ACK_TLVS`).
 *
 * @throws {MalformedNetlinkMessageError} when the payload is shorter than `struct nlmsgerr`.
 * @example
 * ```ts
 * const reply = decodeNetlinkError(message);
 * if (reply.errno !== 0) throw new NetlinkError('delete SA', reply.errno);
 * ```
 */
export function decodeNetlinkError(message: NetlinkMessage): NetlinkErrorReply {
  const p = message.payload;
  const errorLength = NLMSGERR_REQUEST_OFFSET + NLMSG_HEADER_LENGTH;
  if (p.length < errorLength) {
    throw new MalformedNetlinkMessageError(
      `Cannot decode NLMSG_ERROR: ${p.length} bytes is shorter than ${errorLength}`,
    );
  }
  const dv = view(p);
  const error = dv.getInt32(NLMSGERR_ERROR_OFFSET, HOST_LITTLE_ENDIAN);
  const requestLength = dv.getUint32(
    NLMSGERR_REQUEST_OFFSET + NLMSG_LENGTH_OFFSET,
    HOST_LITTLE_ENDIAN,
  );
  const requestType = dv.getUint16(NLMSGERR_REQUEST_OFFSET + NLMSG_TYPE_OFFSET, HOST_LITTLE_ENDIAN);
  const requestSeq = dv.getUint32(NLMSGERR_REQUEST_OFFSET + NLMSG_SEQ_OFFSET, HOST_LITTLE_ENDIAN);
  const base = { errno: error === 0 ? 0 : -error, requestType, requestSeq };
  if ((message.flags & NLM_F_ACK_TLVS) === 0) return base;
  const echoed = (message.flags & NLM_F_CAPPED) !== 0 ? NLMSG_HEADER_LENGTH : align4(requestLength);
  const tlvStart = NLMSGERR_REQUEST_OFFSET + echoed;
  if (tlvStart > p.length) return base;
  for (const a of decodeAttributes(p.subarray(tlvStart))) {
    if ((a.type & NLA_TYPE_MASK) === NLMSGERR_ATTR_MSG) {
      const end = a.value.indexOf(0);
      const text = new TextDecoder().decode(end < 0 ? a.value : a.value.subarray(0, end));
      return { ...base, kernelMessage: text };
    }
  }
  return base;
}
