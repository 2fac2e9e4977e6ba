/**
 * The wire protocol between an unprivileged `IpSecManager` (`backend: 'service'`) and the IPsec
 * service of tsnetd, over a Unix stream socket (docs/ipsec-service.md).
 *
 * A frame is a 12-byte header, all big-endian: `version` (u8, 1), `kind` (u8: 1 request,
 * 2 reply), `op` (u8), `descriptors` (u8: how many descriptors travel with the frame's first byte,
 * `SCM_RIGHTS`, at most 1), `requestId` (u32, echoed by the reply), `bodyLength` (u32, at most
 * {@link MAX_BODY_LENGTH}); then the body: `jsonLength` (u32), a UTF-8 JSON object with the
 * arguments (never a key), and the secret bytes (keys, concatenated in the order the JSON lists
 * them). Both sides zero every buffer that held secret bytes once they are used.
 */

import { IpSecError } from '../errors.ts';

/** Default socket path of the IPsec service. */
export const DEFAULT_IPSEC_SOCKET_PATH = '/run/tsnetd/ipsec';
/** Protocol version spoken here. */
export const WIRE_VERSION = 1;
/** Header length in bytes. */
export const HEADER_LENGTH = 12;
/** Largest body accepted (a request carries at most three keys of at most 64 bytes). */
export const MAX_BODY_LENGTH = 8192;
/** Largest JSON part of a body. */
export const MAX_JSON_LENGTH = 4096;

/** Frame kinds. */
export const KIND_REQUEST = 1;
export const KIND_REPLY = 2;

/** Operations (the Backend contract, per call). */
export const Op = {
  hello: 1,
  reserveSpi: 2,
  releaseSpi: 3,
  openEncapSocket: 4,
  closeEncapSocket: 5,
  createSa: 6,
  deleteSa: 7,
  apply: 8,
  remove: 9,
  state: 10,
} as const;
export type OpName = keyof typeof Op;
const OP_NAMES = new Map<number, OpName>(
  Object.entries(Op).map(([name, value]) => [value, name as OpName]),
);

/** A decoded frame. `secret` is the caller's to zero. */
export interface Frame {
  readonly kind: number;
  readonly op: number;
  readonly descriptors: number;
  readonly requestId: number;
  readonly json: Record<string, unknown>;
  readonly secret: Uint8Array;
}

/** A frame that breaks the protocol: the connection is closed, nothing else happens. */
export class WireProtocolError extends IpSecError {
  constructor(message: string) {
    super(message, 'ERR_IPSEC_SERVICE_PROTOCOL');
    this.name = 'WireProtocolError';
  }
}

/** Name of an operation number, `undefined` when unknown. */
export function opName(op: number): OpName | undefined {
  return OP_NAMES.get(op);
}

/**
 * Encodes one frame. The returned buffer holds `secret` too: zero it after sending.
 *
 * @example
 * ```ts
 * import { encodeFrame, KIND_REQUEST, Op } from './wire.ts';
 * const frame = encodeFrame(KIND_REQUEST, Op.hello, 1, {});
 * frame.length; // 16 + 2
 * ```
 */
export function encodeFrame(
  kind: number,
  op: number,
  requestId: number,
  json: Record<string, unknown>,
  secret: Uint8Array = new Uint8Array(0),
  descriptors = 0,
): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(json));
  if (text.length > MAX_JSON_LENGTH) throw new RangeError('Cannot encode frame: JSON too long');
  const bodyLength = 4 + text.length + secret.length;
  if (bodyLength > MAX_BODY_LENGTH) throw new RangeError('Cannot encode frame: body too long');
  const out = new Uint8Array(HEADER_LENGTH + bodyLength);
  const view = new DataView(out.buffer);
  out[0] = WIRE_VERSION;
  out[1] = kind;
  out[2] = op;
  out[3] = descriptors;
  view.setUint32(4, requestId >>> 0);
  view.setUint32(8, bodyLength);
  view.setUint32(12, text.length);
  out.set(text, 16);
  out.set(secret, 16 + text.length);
  return out;
}

/**
 * Accumulates stream bytes and yields complete frames. Bounded: one frame never exceeds
 * {@link HEADER_LENGTH} + {@link MAX_BODY_LENGTH}, so neither does the buffer beyond one read.
 */
export class FrameReader {
  #buffer: Uint8Array = new Uint8Array(0);

  /** Bytes waiting for the rest of their frame. */
  get pending(): number {
    return this.#buffer.length;
  }

  /**
   * Adds bytes and returns the frames completed by them.
   *
   * @throws {WireProtocolError} wrong version, unknown kind, oversized or malformed frame
   */
  push(bytes: Uint8Array): Frame[] {
    const joined = new Uint8Array(this.#buffer.length + bytes.length);
    joined.set(this.#buffer);
    joined.set(bytes, this.#buffer.length);
    this.#buffer.fill(0);
    const frames: Frame[] = [];
    let offset = 0;
    try {
      while (joined.length - offset >= HEADER_LENGTH) {
        const view = new DataView(joined.buffer, joined.byteOffset + offset);
        const version = joined[offset] ?? 0;
        const kind = joined[offset + 1] ?? 0;
        const op = joined[offset + 2] ?? 0;
        const descriptors = joined[offset + 3] ?? 0;
        const requestId = view.getUint32(4);
        const bodyLength = view.getUint32(8);
        if (version !== WIRE_VERSION) {
          throw new WireProtocolError(`Unsupported protocol version ${version} (expected 1)`);
        }
        if (kind !== KIND_REQUEST && kind !== KIND_REPLY) {
          throw new WireProtocolError(`Unknown frame kind ${kind}`);
        }
        if (descriptors > 1) throw new WireProtocolError('Too many descriptors in one frame');
        if (bodyLength < 4 || bodyLength > MAX_BODY_LENGTH) {
          throw new WireProtocolError(`Frame body of ${bodyLength} bytes is out of bounds`);
        }
        if (joined.length - offset < HEADER_LENGTH + bodyLength) break;
        const jsonLength = view.getUint32(12);
        if (jsonLength > MAX_JSON_LENGTH || jsonLength > bodyLength - 4) {
          throw new WireProtocolError(`JSON part of ${jsonLength} bytes is out of bounds`);
        }
        const start = offset + 16;
        let json: unknown;
        try {
          json = JSON.parse(
            new TextDecoder('utf-8', { fatal: true }).decode(
              joined.subarray(start, start + jsonLength),
            ),
          );
        } catch {
          throw new WireProtocolError('Frame JSON is not valid UTF-8 JSON');
        }
        if (typeof json !== 'object' || json === null || Array.isArray(json)) {
          throw new WireProtocolError('Frame JSON is not an object');
        }
        const secret = joined.slice(start + jsonLength, offset + HEADER_LENGTH + bodyLength);
        frames.push({
          kind,
          op,
          descriptors,
          requestId,
          json: json as Record<string, unknown>,
          secret,
        });
        offset += HEADER_LENGTH + bodyLength;
      }
      this.#buffer = joined.slice(offset);
    } finally {
      joined.fill(0);
    }
    return frames;
  }

  /** Zeroes what is buffered. */
  clear(): void {
    this.#buffer.fill(0);
    this.#buffer = new Uint8Array(0);
  }
}

/** The JSON of an error reply: enough for the client to rebuild the same error class. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly reason?: string;
  readonly spi?: number;
}

/** Reads a required integer field of a request. */
export function intField(json: Record<string, unknown>, name: string, min: number, max: number) {
  const value = json[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new WireProtocolError(`Field "${name}" must be an integer in ${min}..${max}`);
  }
  return value;
}

/** Reads a required short string field of a request. */
export function stringField(json: Record<string, unknown>, name: string, maxLength = 64): string {
  const value = json[name];
  if (typeof value !== 'string' || value.length > maxLength) {
    throw new WireProtocolError(`Field "${name}" must be a string of at most ${maxLength} chars`);
  }
  return value;
}
