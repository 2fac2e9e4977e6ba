/**
 * SA requests: `XFRM_MSG_NEWSA` / `XFRM_MSG_UPDSA` (`xfrm_usersa_info` + algorithm, encap,
 * replay-ESN and mark attributes, in iproute2's order), `XFRM_MSG_ALLOCSPI`
 * (`xfrm_userspi_info`), `XFRM_MSG_DELSA` / `XFRM_MSG_GETSA` (`xfrm_usersa_id`) and the `GETSA`
 * dump. Pure: bytes in, bytes out.
 *
 * Keys: encoders copy keys into the returned request and scrub their own intermediate copies.
 */
import type { AeadName, AuthName, CipherName } from '../esp/transform.ts';
import {
  encodeNetlinkMessage,
  HOST_LITTLE_ENDIAN,
  type NetlinkAttribute,
  NLM_F_DUMP,
  NLM_F_REQUEST,
} from '../sys/netlink/message.ts';
import {
  ADDRESS_FILTER_DADDR_OFFSET,
  ADDRESS_FILTER_DPLEN_OFFSET,
  ADDRESS_FILTER_FAMILY_OFFSET,
  ADDRESS_FILTER_SADDR_OFFSET,
  ADDRESS_FILTER_SPLEN_OFFSET,
  ALGO_KEY_LENGTH_OFFSET,
  ALGO_NAME_OFFSET,
  ALGO_TRUNC_LENGTH_OFFSET,
  ENCAP_DPORT_OFFSET,
  ENCAP_OA_OFFSET,
  ENCAP_SPORT_OFFSET,
  ENCAP_TYPE_OFFSET,
  IPPROTO_ESP,
  MAX_KEY_LENGTH,
  REPLAY_ESN_BMP_LEN_OFFSET,
  REPLAY_ESN_OSEQ_HI_OFFSET,
  REPLAY_ESN_OSEQ_OFFSET,
  REPLAY_ESN_SEQ_HI_OFFSET,
  REPLAY_ESN_SEQ_OFFSET,
  REPLAY_ESN_WINDOW_OFFSET,
  REPLAY_ESN_WORD_LENGTH,
  UDP_ENCAP_ESPINUDP,
  UDP_ENCAP_ESPINUDP_NON_IKE,
  USERSA_FAMILY_OFFSET,
  USERSA_FLAGS_OFFSET,
  USERSA_ID_DADDR_OFFSET,
  USERSA_ID_FAMILY_OFFSET,
  USERSA_ID_OFFSET,
  USERSA_ID_PROTO_OFFSET,
  USERSA_ID_SPI_OFFSET,
  USERSA_LFT_OFFSET,
  USERSA_MODE_OFFSET,
  USERSA_REPLAY_WINDOW_OFFSET,
  USERSA_REQID_OFFSET,
  USERSA_SADDR_OFFSET,
  USERSA_SEL_OFFSET,
  USERSA_SEQ_OFFSET,
  USERSPI_MAX_OFFSET,
  USERSPI_MIN_OFFSET,
  XFRM_ADDRESS_FILTER_LENGTH,
  XFRM_ALGO_AUTH_LENGTH,
  XFRM_ALGO_LENGTH,
  XFRM_ALGO_NAME_LENGTH,
  XFRM_ENCAP_TMPL_LENGTH,
  XFRM_ID_DADDR_OFFSET,
  XFRM_ID_PROTO_OFFSET,
  XFRM_ID_SPI_OFFSET,
  XFRM_MSG_ALLOCSPI,
  XFRM_MSG_DELSA,
  XFRM_MSG_GETSA,
  XFRM_MSG_NEWSA,
  XFRM_MSG_UPDSA,
  XFRM_REPLAY_ESN_LENGTH,
  XFRM_USERSA_ID_LENGTH,
  XFRM_USERSA_INFO_LENGTH,
  XFRM_USERSPI_INFO_LENGTH,
  XFRMA_ADDRESS_FILTER,
  XFRMA_ALG_AEAD,
  XFRMA_ALG_AUTH_TRUNC,
  XFRMA_ALG_CRYPT,
  XFRMA_ENCAP,
  XFRMA_MARK,
  XFRMA_REPLAY_ESN_MAX,
  XFRMA_REPLAY_ESN_VAL,
  XFRMA_SRCADDR,
} from './layout.ts';
import {
  checkUint,
  DEFAULT_REQUEST_FLAGS,
  dataView,
  markAttribute,
  modeNumber,
  parsePair,
  writeLifetime,
  writeSelector,
  XFRM_LIFETIME_INFINITE,
  type XfrmLifetimeConfig,
  type XfrmMark,
  type XfrmMode,
  type XfrmSelectorInit,
} from './structs.ts';
import { type AddressFamilyNumber, AF_UNSPEC, parseXfrmAddress } from './xfrm_address.ts';

/** The `xfrm_usersa_info` fields a request sets (docs/kernel-backend.md lists Android's choices). */
export interface XfrmSaInfoInit {
  /** Numeric IPv4/IPv6 destination; its family is the SA family. */
  readonly destination: string;
  /** Numeric source of the same family, or `''` (default) for none. */
  readonly source?: string;
  /** uint32 SPI, written in network order. */
  readonly spi: number;
  /** Default {@link IPPROTO_ESP}. */
  readonly proto?: number;
  /** Default 0. Android uses the owner's UID; tsnetd uses it to find its own SAs. */
  readonly reqid?: number;
  /** Default `'transport'`. */
  readonly mode?: XfrmMode;
  /** Legacy u8 replay window; default 0 (Android 14+ uses {@link XfrmReplayEsnInit} instead). */
  readonly replayWindow?: number;
  /** `XFRM_STATE_*` bits, default 0. */
  readonly flags?: number;
  /** `xfrm_usersa_info.seq` (ACQUIRE sequence), default 0. */
  readonly seq?: number;
  /** Default {@link XFRM_LIFETIME_INFINITE}. */
  readonly lifetime?: XfrmLifetimeConfig;
  /** Default all zero with family AF_UNSPEC (Android's choice). */
  readonly selector?: XfrmSelectorInit;
}

/** `XFRMA_ALG_AEAD`. `key` includes the salt (RFC 4106 §8.1: key‖salt(4)). */
export interface XfrmAeadInit {
  readonly name: AeadName;
  readonly key: Uint8Array;
  readonly icvLengthBits: number;
}
/** `XFRMA_ALG_CRYPT`. */
export interface XfrmCipherInit {
  readonly name: CipherName;
  readonly key: Uint8Array;
}
/** `XFRMA_ALG_AUTH_TRUNC`. */
export interface XfrmAuthInit {
  readonly name: AuthName;
  readonly key: Uint8Array;
  readonly truncationLengthBits: number;
}
/** `XFRMA_ENCAP` (RFC 3948 UDP encapsulation). Ports are host numbers; written big-endian. */
export interface XfrmEncapInit {
  readonly type: 'espinudp' | 'espinudp-non-ike';
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** NAT-OA; default `''` (none, all zero — what Android sends). */
  readonly originalAddress?: string;
}
/**
 * `XFRMA_REPLAY_ESN_VAL`. `bmp_len` is always `ceil(replayWindow / 32)`. Without `bitmap` only the
 * 24-byte header is sent (as iproute2 does; the kernel accepts it); with it, exactly `bmp_len`
 * words must be given (Android sends 128 zero words for its 4096 window).
 */
export interface XfrmReplayEsnInit {
  readonly replayWindow: number;
  readonly seq?: number;
  readonly seqHi?: number;
  readonly oseq?: number;
  readonly oseqHi?: number;
  readonly bitmap?: readonly number[];
}

/** Options of {@link encodeNewSaRequest} / {@link encodeUpdateSaRequest}. */
export interface XfrmSaRequestOptions extends XfrmSaInfoInit {
  readonly aead?: XfrmAeadInit;
  readonly cipher?: XfrmCipherInit;
  readonly auth?: XfrmAuthInit;
  readonly encap?: XfrmEncapInit;
  readonly replayEsn?: XfrmReplayEsnInit;
  readonly mark?: XfrmMark;
  /** `nlmsg_flags`, default `NLM_F_REQUEST | NLM_F_ACK`. */
  readonly netlinkFlags?: number;
}

/** Options of {@link encodeAllocSpiRequest}: the SA fields (no SPI) and the range to pick from. */
export interface XfrmAllocSpiOptions extends Omit<XfrmSaInfoInit, 'spi'> {
  /** Lowest acceptable SPI (Android: `min == max` = one candidate per request). */
  readonly min: number;
  /** Highest acceptable SPI. */
  readonly max: number;
  readonly mark?: XfrmMark;
  /** `nlmsg_flags`, default `NLM_F_REQUEST | NLM_F_ACK`. */
  readonly netlinkFlags?: number;
}

/** An SA's identity (`xfrm_usersa_id` + optional attributes) for DELSA / GETSA. */
export interface XfrmSaIdInit {
  readonly destination: string;
  readonly spi: number;
  /** Default {@link IPPROTO_ESP}. */
  readonly proto?: number;
  /** When given (even `'0.0.0.0'`), sent as `XFRMA_SRCADDR` (iproute2 does; Android does not). */
  readonly source?: string;
  readonly mark?: XfrmMark;
  /** `nlmsg_flags`, default `NLM_F_REQUEST | NLM_F_ACK`. */
  readonly netlinkFlags?: number;
}

/** Options of {@link encodeDumpSaRequest}. */
export interface XfrmDumpSaOptions {
  /** Kernel-side filter (`XFRMA_ADDRESS_FILTER`); prefix lengths 0 match everything. */
  readonly addressFilter?: {
    readonly source?: string;
    readonly destination?: string;
    readonly sourcePrefixLength?: number;
    readonly destinationPrefixLength?: number;
    readonly family?: AddressFamilyNumber;
  };
}

/** Writes `xfrm_usersa_info` (224 bytes) at `base`; returns the SA family. */
function writeUserSaInfo(bytes: Uint8Array, base: number, init: XfrmSaInfoInit): number {
  const dv = dataView(bytes);
  const { dst, src } = parsePair(init.destination, init.source, 'SA');
  writeSelector(dv, base + USERSA_SEL_OFFSET, init.selector);
  bytes.set(dst.bytes, base + USERSA_ID_OFFSET + XFRM_ID_DADDR_OFFSET);
  dv.setUint32(base + USERSA_ID_OFFSET + XFRM_ID_SPI_OFFSET, checkUint(init.spi, 32, 'SPI'), false);
  dv.setUint8(
    base + USERSA_ID_OFFSET + XFRM_ID_PROTO_OFFSET,
    checkUint(init.proto ?? IPPROTO_ESP, 8, 'protocol'),
  );
  bytes.set(src.bytes, base + USERSA_SADDR_OFFSET);
  writeLifetime(dv, base + USERSA_LFT_OFFSET, init.lifetime ?? XFRM_LIFETIME_INFINITE);
  // curlft and stats stay zero: the kernel ignores them on input.
  dv.setUint32(base + USERSA_SEQ_OFFSET, checkUint(init.seq ?? 0, 32, 'seq'), HOST_LITTLE_ENDIAN);
  dv.setUint32(
    base + USERSA_REQID_OFFSET,
    checkUint(init.reqid ?? 0, 32, 'reqid'),
    HOST_LITTLE_ENDIAN,
  );
  dv.setUint16(base + USERSA_FAMILY_OFFSET, dst.family, HOST_LITTLE_ENDIAN);
  dv.setUint8(base + USERSA_MODE_OFFSET, modeNumber(init.mode));
  dv.setUint8(
    base + USERSA_REPLAY_WINDOW_OFFSET,
    checkUint(init.replayWindow ?? 0, 8, 'replay window'),
  );
  dv.setUint8(base + USERSA_FLAGS_OFFSET, checkUint(init.flags ?? 0, 8, 'SA flags'));
  return dst.family;
}

function encodeName(name: string, out: Uint8Array): void {
  const encoded = new TextEncoder().encode(name);
  if (encoded.length === 0 || encoded.length >= XFRM_ALGO_NAME_LENGTH) {
    throw new RangeError(
      `Cannot encode algorithm name "${name}": must be 1..${XFRM_ALGO_NAME_LENGTH - 1} bytes`,
    );
  }
  out.set(encoded, ALGO_NAME_OFFSET);
}

function checkKey(key: Uint8Array, name: string): void {
  if (!(key instanceof Uint8Array) || key.length > MAX_KEY_LENGTH) {
    throw new RangeError(
      `Cannot encode key for "${name}": must be a Uint8Array of at most ${MAX_KEY_LENGTH} bytes`,
    );
  }
}

/** `xfrm_algo` (+ key) or, with `extraBits`, `xfrm_algo_auth` / `xfrm_algo_aead` (+ key). */
function algorithmValue(name: string, key: Uint8Array, extraBits?: number): Uint8Array {
  checkKey(key, name);
  const headerLength = extraBits === undefined ? XFRM_ALGO_LENGTH : XFRM_ALGO_AUTH_LENGTH;
  const out = new Uint8Array(headerLength + key.length);
  const dv = dataView(out);
  encodeName(name, out);
  dv.setUint32(ALGO_KEY_LENGTH_OFFSET, key.length * 8, HOST_LITTLE_ENDIAN);
  if (extraBits !== undefined) {
    dv.setUint32(
      ALGO_TRUNC_LENGTH_OFFSET,
      checkUint(extraBits, 32, 'ICV/truncation length'),
      HOST_LITTLE_ENDIAN,
    );
  }
  out.set(key, headerLength);
  return out;
}

function encapAttribute(encap: XfrmEncapInit): NetlinkAttribute {
  const value = new Uint8Array(XFRM_ENCAP_TMPL_LENGTH);
  const dv = dataView(value);
  const type = encap.type === 'espinudp' ? UDP_ENCAP_ESPINUDP : UDP_ENCAP_ESPINUDP_NON_IKE;
  if (encap.type !== 'espinudp' && encap.type !== 'espinudp-non-ike') {
    throw new RangeError(
      `Cannot encode encapsulation type "${String(encap.type)}": expected espinudp`,
    );
  }
  dv.setUint16(ENCAP_TYPE_OFFSET, type, HOST_LITTLE_ENDIAN);
  dv.setUint16(ENCAP_SPORT_OFFSET, checkUint(encap.sourcePort, 16, 'encap source port'), false);
  dv.setUint16(
    ENCAP_DPORT_OFFSET,
    checkUint(encap.destinationPort, 16, 'encap destination port'),
    false,
  );
  value.set(parseXfrmAddress(encap.originalAddress ?? '').bytes, ENCAP_OA_OFFSET);
  return { type: XFRMA_ENCAP, value };
}

function replayEsnAttribute(esn: XfrmReplayEsnInit): NetlinkAttribute {
  const window = checkUint(esn.replayWindow, 32, 'replay window');
  if (window > XFRMA_REPLAY_ESN_MAX) {
    throw new RangeError(
      `Cannot encode replay window ${window}: the kernel accepts at most ${XFRMA_REPLAY_ESN_MAX}`,
    );
  }
  const bmpLength = Math.ceil(window / 32);
  const words = esn.bitmap ?? [];
  if (esn.bitmap !== undefined && words.length !== bmpLength) {
    throw new RangeError(
      `Cannot encode replay bitmap: ${words.length} words given, window ${window} needs ${bmpLength}`,
    );
  }
  const value = new Uint8Array(XFRM_REPLAY_ESN_LENGTH + REPLAY_ESN_WORD_LENGTH * words.length);
  const dv = dataView(value);
  dv.setUint32(REPLAY_ESN_BMP_LEN_OFFSET, bmpLength, HOST_LITTLE_ENDIAN);
  dv.setUint32(REPLAY_ESN_OSEQ_OFFSET, checkUint(esn.oseq ?? 0, 32, 'oseq'), HOST_LITTLE_ENDIAN);
  dv.setUint32(REPLAY_ESN_SEQ_OFFSET, checkUint(esn.seq ?? 0, 32, 'seq'), HOST_LITTLE_ENDIAN);
  dv.setUint32(
    REPLAY_ESN_OSEQ_HI_OFFSET,
    checkUint(esn.oseqHi ?? 0, 32, 'oseq_hi'),
    HOST_LITTLE_ENDIAN,
  );
  dv.setUint32(
    REPLAY_ESN_SEQ_HI_OFFSET,
    checkUint(esn.seqHi ?? 0, 32, 'seq_hi'),
    HOST_LITTLE_ENDIAN,
  );
  dv.setUint32(REPLAY_ESN_WINDOW_OFFSET, window, HOST_LITTLE_ENDIAN);
  words.forEach((word, i) => {
    dv.setUint32(
      XFRM_REPLAY_ESN_LENGTH + REPLAY_ESN_WORD_LENGTH * i,
      checkUint(word, 32, 'bitmap word'),
      HOST_LITTLE_ENDIAN,
    );
  });
  return { type: XFRMA_REPLAY_ESN_VAL, value };
}

function addressAttribute(type: number, address: Uint8Array): NetlinkAttribute {
  return { type, value: address.slice() };
}

function encodeSaRequest(type: number, options: XfrmSaRequestOptions): Uint8Array {
  if (options.aead !== undefined && (options.cipher !== undefined || options.auth !== undefined)) {
    throw new TypeError('Cannot encode SA: an AEAD algorithm excludes cipher and auth algorithms');
  }
  const body = new Uint8Array(XFRM_USERSA_INFO_LENGTH);
  writeUserSaInfo(body, 0, options);
  // Attribute order = iproute2's (algorithms, encap, replay state, mark), checked by the goldens.
  const attributes: NetlinkAttribute[] = [];
  if (options.aead !== undefined) {
    const { name, key, icvLengthBits } = options.aead;
    attributes.push({ type: XFRMA_ALG_AEAD, value: algorithmValue(name, key, icvLengthBits) });
  }
  if (options.cipher !== undefined) {
    attributes.push({
      type: XFRMA_ALG_CRYPT,
      value: algorithmValue(options.cipher.name, options.cipher.key),
    });
  }
  if (options.auth !== undefined) {
    const { name, key, truncationLengthBits } = options.auth;
    attributes.push({
      type: XFRMA_ALG_AUTH_TRUNC,
      value: algorithmValue(name, key, truncationLengthBits),
    });
  }
  if (options.encap !== undefined) attributes.push(encapAttribute(options.encap));
  if (options.replayEsn !== undefined) attributes.push(replayEsnAttribute(options.replayEsn));
  if (options.mark !== undefined) attributes.push(markAttribute(options.mark));
  const message = encodeNetlinkMessage({
    type,
    flags: options.netlinkFlags ?? DEFAULT_REQUEST_FLAGS,
    body,
    attributes,
  });
  for (const a of attributes) if (a.type !== XFRMA_MARK) a.value.fill(0); // scrub key copies
  return message;
}

/**
 * Encodes `XFRM_MSG_NEWSA` (fails with `EEXIST` if the SA exists).
 *
 * @throws {TypeError} on an unparsable address, family mismatch, or AEAD combined with cipher/auth.
 * @throws {RangeError} on an out-of-range number, a name over 63 bytes, a key over 128 bytes.
 * @example
 * ```ts
 * const request = encodeNewSaRequest({
 *   destination: '192.0.2.1', source: '192.0.2.2', spi: 0x1000, reqid: 1,
 *   aead: { name: 'rfc4106(gcm(aes))', key: new Uint8Array(20), icvLengthBits: 128 },
 *   replayEsn: { replayWindow: 4096 },
 * });
 * ```
 */
export function encodeNewSaRequest(options: XfrmSaRequestOptions): Uint8Array {
  return encodeSaRequest(XFRM_MSG_NEWSA, options);
}

/**
 * Encodes `XFRM_MSG_UPDSA`: installs the full SA over the larval state `ALLOCSPI` created, or
 * updates an existing SA (`ESRCH` if neither exists). Android's netd always uses this one.
 *
 * @throws {TypeError} see {@link encodeNewSaRequest}.
 * @throws {RangeError} see {@link encodeNewSaRequest}.
 * @example
 * ```ts
 * encodeUpdateSaRequest({ destination: '2001:db8::1', spi: 0xd1201d, reqid: 1000,
 *   cipher: { name: 'cbc(aes)', key }, auth: { name: 'hmac(sha256)', key: authKey, truncationLengthBits: 128 },
 *   replayEsn: { replayWindow: 4096, bitmap: new Array(128).fill(0) } });
 * ```
 */
export function encodeUpdateSaRequest(options: XfrmSaRequestOptions): Uint8Array {
  return encodeSaRequest(XFRM_MSG_UPDSA, options);
}

/**
 * Encodes `XFRM_MSG_ALLOCSPI` (`xfrm_userspi_info`: an SA template + `min`/`max`). The kernel
 * answers with an `XFRM_MSG_NEWSA` describing the larval state, or `ENOENT` when no SPI in the
 * range is free for (destination, proto, family, mark).
 *
 * @throws {TypeError} on an unparsable/empty destination or family mismatch.
 * @throws {RangeError} when `min`/`max` are not uint32 or `min > max`.
 * @example
 * ```ts
 * encodeAllocSpiRequest({ destination: '192.0.2.1', reqid: 1, min: 0xd1201d, max: 0xd1201d });
 * ```
 */
export function encodeAllocSpiRequest(options: XfrmAllocSpiOptions): Uint8Array {
  const min = checkUint(options.min, 32, 'SPI minimum');
  const max = checkUint(options.max, 32, 'SPI maximum');
  if (min > max)
    throw new RangeError(`Cannot encode SPI range: minimum ${min} is above maximum ${max}`);
  const body = new Uint8Array(XFRM_USERSPI_INFO_LENGTH);
  writeUserSaInfo(body, 0, { ...options, spi: 0 });
  const dv = dataView(body);
  dv.setUint32(USERSPI_MIN_OFFSET, min, HOST_LITTLE_ENDIAN);
  dv.setUint32(USERSPI_MAX_OFFSET, max, HOST_LITTLE_ENDIAN);
  const attributes = options.mark === undefined ? [] : [markAttribute(options.mark)];
  return encodeNetlinkMessage({
    type: XFRM_MSG_ALLOCSPI,
    flags: options.netlinkFlags ?? DEFAULT_REQUEST_FLAGS,
    body,
    attributes,
  });
}

function encodeSaIdRequest(type: number, id: XfrmSaIdInit): Uint8Array {
  const { dst, src } = parsePair(id.destination, id.source, 'SA id');
  const body = new Uint8Array(XFRM_USERSA_ID_LENGTH);
  const dv = dataView(body);
  body.set(dst.bytes, USERSA_ID_DADDR_OFFSET);
  dv.setUint32(USERSA_ID_SPI_OFFSET, checkUint(id.spi, 32, 'SPI'), false);
  dv.setUint16(USERSA_ID_FAMILY_OFFSET, dst.family, HOST_LITTLE_ENDIAN);
  dv.setUint8(USERSA_ID_PROTO_OFFSET, checkUint(id.proto ?? IPPROTO_ESP, 8, 'protocol'));
  const attributes: NetlinkAttribute[] = [];
  if (id.source !== undefined) attributes.push(addressAttribute(XFRMA_SRCADDR, src.bytes));
  if (id.mark !== undefined) attributes.push(markAttribute(id.mark));
  return encodeNetlinkMessage({
    type,
    flags: id.netlinkFlags ?? DEFAULT_REQUEST_FLAGS,
    body,
    attributes,
  });
}

/**
 * Encodes `XFRM_MSG_DELSA` (`xfrm_usersa_id` + optional `XFRMA_SRCADDR`, `XFRMA_MARK`).
 *
 * @throws {TypeError} on an unparsable/empty destination.
 * @example
 * ```ts
 * encodeDeleteSaRequest({ destination: '192.0.2.1', spi: 0xd1201d });
 * ```
 */
export function encodeDeleteSaRequest(id: XfrmSaIdInit): Uint8Array {
  return encodeSaIdRequest(XFRM_MSG_DELSA, id);
}

/**
 * Encodes `XFRM_MSG_GETSA` for one SA (Android 15 `ipSecGetSa`: 40 bytes without attributes).
 * The reply is an `XFRM_MSG_NEWSA` ({@link decodeSaMessage}) or `ESRCH`.
 *
 * @throws {TypeError} on an unparsable/empty destination.
 * @example
 * ```ts
 * encodeGetSaRequest({ destination: '2001:db8::1', spi: 0x28ce1197 }).length; // 40
 * ```
 */
export function encodeGetSaRequest(id: XfrmSaIdInit): Uint8Array {
  return encodeSaIdRequest(XFRM_MSG_GETSA, id);
}

/**
 * Encodes the `XFRM_MSG_GETSA` dump request (`NLM_F_REQUEST | NLM_F_DUMP`, no body). With
 * `addressFilter`, appends `XFRMA_ADDRESS_FILTER` (as `ip xfrm state list` does, all zero).
 *
 * @example
 * ```ts
 * encodeDumpSaRequest().length; // 16
 * ```
 */
export function encodeDumpSaRequest(options: XfrmDumpSaOptions = {}): Uint8Array {
  const attributes: NetlinkAttribute[] = [];
  const filter = options.addressFilter;
  if (filter !== undefined) {
    const value = new Uint8Array(XFRM_ADDRESS_FILTER_LENGTH);
    const dv = dataView(value);
    const src = parseXfrmAddress(filter.source ?? '');
    const dst = parseXfrmAddress(filter.destination ?? '');
    value.set(src.bytes, ADDRESS_FILTER_SADDR_OFFSET);
    value.set(dst.bytes, ADDRESS_FILTER_DADDR_OFFSET);
    dv.setUint16(ADDRESS_FILTER_FAMILY_OFFSET, filter.family ?? AF_UNSPEC, HOST_LITTLE_ENDIAN);
    dv.setUint8(
      ADDRESS_FILTER_SPLEN_OFFSET,
      checkUint(filter.sourcePrefixLength ?? 0, 8, 'prefix length'),
    );
    dv.setUint8(
      ADDRESS_FILTER_DPLEN_OFFSET,
      checkUint(filter.destinationPrefixLength ?? 0, 8, 'prefix length'),
    );
    attributes.push({ type: XFRMA_ADDRESS_FILTER, value });
  }
  return encodeNetlinkMessage({
    type: XFRM_MSG_GETSA,
    flags: NLM_F_REQUEST | NLM_F_DUMP,
    body: new Uint8Array(0),
    attributes,
  });
}
