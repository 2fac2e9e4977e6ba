/**
 * Policy messages: `XFRM_MSG_NEWPOLICY` (`xfrm_userpolicy_info` + `XFRMA_TMPL`), and the value of
 * `setsockopt(IP_XFRM_POLICY / IPV6_XFRM_POLICY)` (one `xfrm_userpolicy_info` followed by one
 * `xfrm_user_tmpl`, no netlink framing) with its decoder. Pure: bytes in, bytes out.
 */
import {
  encodeNetlinkMessage,
  HOST_LITTLE_ENDIAN,
  type NetlinkAttribute,
} from '../sys/netlink/message.ts';
import { MalformedNetlinkMessageError } from './errors.ts';
import {
  IPPROTO_ESP,
  TMPL_AALGOS_OFFSET,
  TMPL_ANY_ALGORITHM,
  TMPL_CALGOS_OFFSET,
  TMPL_EALGOS_OFFSET,
  TMPL_FAMILY_OFFSET,
  TMPL_ID_OFFSET,
  TMPL_MODE_OFFSET,
  TMPL_OPTIONAL_OFFSET,
  TMPL_REQID_OFFSET,
  TMPL_SADDR_OFFSET,
  TMPL_SHARE_OFFSET,
  USERPOLICY_ACTION_OFFSET,
  USERPOLICY_DIR_OFFSET,
  USERPOLICY_FLAGS_OFFSET,
  USERPOLICY_INDEX_OFFSET,
  USERPOLICY_LFT_OFFSET,
  USERPOLICY_PRIORITY_OFFSET,
  USERPOLICY_SEL_OFFSET,
  USERPOLICY_SHARE_OFFSET,
  XFRM_ID_DADDR_OFFSET,
  XFRM_ID_PROTO_OFFSET,
  XFRM_ID_SPI_OFFSET,
  XFRM_MSG_NEWPOLICY,
  XFRM_POLICY_ALLOW,
  XFRM_POLICY_BLOCK,
  XFRM_SHARE_ANY,
  XFRM_USER_TMPL_LENGTH,
  XFRM_USERPOLICY_INFO_LENGTH,
  XFRMA_TMPL,
} from './layout.ts';
import {
  checkUint,
  DEFAULT_REQUEST_FLAGS,
  dataView,
  directionNumber,
  markAttribute,
  modeNumber,
  parsePair,
  readSelector,
  writeLifetime,
  writeSelector,
  XFRM_LIFETIME_INFINITE,
  type XfrmDirection,
  type XfrmLifetimeConfig,
  type XfrmMark,
  type XfrmMode,
  type XfrmSelector,
  type XfrmSelectorInit,
} from './structs.ts';
import { type AddressFamilyNumber, formatXfrmAddress } from './xfrm_address.ts';

/** `xfrm_userpolicy_info` fields. */
export interface XfrmPolicyInfoInit {
  readonly direction: XfrmDirection;
  /** Default all zero with family AF_UNSPEC; Android sets `family` to the SA family. */
  readonly selector?: XfrmSelectorInit;
  /** Default {@link XFRM_LIFETIME_INFINITE}. */
  readonly lifetime?: XfrmLifetimeConfig;
  readonly priority?: number;
  readonly index?: number;
  /** Default `'allow'`. */
  readonly action?: 'allow' | 'block';
  /** `XFRM_POLICY_*` flag bits; default 0 (Android: {@link XFRM_POLICY_LOCALOK}). */
  readonly flags?: number;
  /** `XFRM_SHARE_*`; default {@link XFRM_SHARE_ANY} (Android: {@link XFRM_SHARE_UNIQUE}). */
  readonly share?: number;
}

/** `xfrm_user_tmpl` fields. */
export interface XfrmTemplateInit {
  readonly destination: string;
  /** Default `''` (none). */
  readonly source?: string;
  readonly spi: number;
  /** Default {@link IPPROTO_ESP}. */
  readonly proto?: number;
  /** Default: the destination's family. */
  readonly family?: AddressFamilyNumber;
  readonly reqid?: number;
  /** Default `'transport'`. */
  readonly mode?: XfrmMode;
  /** Default {@link XFRM_SHARE_ANY}. */
  readonly share?: number;
  /** Default false (`level required`). */
  readonly optional?: boolean;
  /** Default `0xffffffff` (any). */
  readonly authAlgorithms?: number;
  /** Default `0xffffffff` (any). */
  readonly encryptionAlgorithms?: number;
  /** Default 0 (Android); iproute2 sends `0xffffffff`. */
  readonly compressionAlgorithms?: number;
}

/** Options of {@link encodeNewPolicyRequest}. */
export interface XfrmNewPolicyOptions {
  readonly policy: XfrmPolicyInfoInit;
  readonly templates: readonly XfrmTemplateInit[];
  readonly mark?: XfrmMark;
  /** `nlmsg_flags`, default `NLM_F_REQUEST | NLM_F_ACK`. */
  readonly netlinkFlags?: number;
}

function writePolicyInfo(bytes: Uint8Array, base: number, init: XfrmPolicyInfoInit): void {
  const dv = dataView(bytes);
  writeSelector(dv, base + USERPOLICY_SEL_OFFSET, init.selector);
  writeLifetime(dv, base + USERPOLICY_LFT_OFFSET, init.lifetime ?? XFRM_LIFETIME_INFINITE);
  dv.setUint32(
    base + USERPOLICY_PRIORITY_OFFSET,
    checkUint(init.priority ?? 0, 32, 'priority'),
    HOST_LITTLE_ENDIAN,
  );
  dv.setUint32(
    base + USERPOLICY_INDEX_OFFSET,
    checkUint(init.index ?? 0, 32, 'index'),
    HOST_LITTLE_ENDIAN,
  );
  dv.setUint8(base + USERPOLICY_DIR_OFFSET, directionNumber(init.direction));
  dv.setUint8(
    base + USERPOLICY_ACTION_OFFSET,
    init.action === 'block' ? XFRM_POLICY_BLOCK : XFRM_POLICY_ALLOW,
  );
  dv.setUint8(base + USERPOLICY_FLAGS_OFFSET, checkUint(init.flags ?? 0, 8, 'policy flags'));
  dv.setUint8(base + USERPOLICY_SHARE_OFFSET, checkUint(init.share ?? XFRM_SHARE_ANY, 8, 'share'));
}

function writeTemplate(bytes: Uint8Array, base: number, init: XfrmTemplateInit): void {
  const dv = dataView(bytes);
  const { dst, src } = parsePair(init.destination, init.source, 'policy template');
  bytes.set(dst.bytes, base + TMPL_ID_OFFSET + XFRM_ID_DADDR_OFFSET);
  dv.setUint32(base + TMPL_ID_OFFSET + XFRM_ID_SPI_OFFSET, checkUint(init.spi, 32, 'SPI'), false);
  dv.setUint8(
    base + TMPL_ID_OFFSET + XFRM_ID_PROTO_OFFSET,
    checkUint(init.proto ?? IPPROTO_ESP, 8, 'protocol'),
  );
  dv.setUint16(base + TMPL_FAMILY_OFFSET, init.family ?? dst.family, HOST_LITTLE_ENDIAN);
  bytes.set(src.bytes, base + TMPL_SADDR_OFFSET);
  dv.setUint32(
    base + TMPL_REQID_OFFSET,
    checkUint(init.reqid ?? 0, 32, 'reqid'),
    HOST_LITTLE_ENDIAN,
  );
  dv.setUint8(base + TMPL_MODE_OFFSET, modeNumber(init.mode));
  dv.setUint8(base + TMPL_SHARE_OFFSET, checkUint(init.share ?? XFRM_SHARE_ANY, 8, 'share'));
  dv.setUint8(base + TMPL_OPTIONAL_OFFSET, init.optional === true ? 1 : 0);
  const algos = (v: number | undefined, d: number, what: string) => checkUint(v ?? d, 32, what);
  dv.setUint32(
    base + TMPL_AALGOS_OFFSET,
    algos(init.authAlgorithms, TMPL_ANY_ALGORITHM, 'aalgos'),
    HOST_LITTLE_ENDIAN,
  );
  dv.setUint32(
    base + TMPL_EALGOS_OFFSET,
    algos(init.encryptionAlgorithms, TMPL_ANY_ALGORITHM, 'ealgos'),
    HOST_LITTLE_ENDIAN,
  );
  dv.setUint32(
    base + TMPL_CALGOS_OFFSET,
    algos(init.compressionAlgorithms, 0, 'calgos'),
    HOST_LITTLE_ENDIAN,
  );
}

/**
 * Encodes `XFRM_MSG_NEWPOLICY` (`xfrm_userpolicy_info` + `XFRMA_TMPL` + optional `XFRMA_MARK`),
 * a global SPD entry (tunnel mode in Android; used here to compare with `ip xfrm policy add`).
 *
 * @throws {TypeError} on an unparsable template address.
 * @throws {RangeError} on an out-of-range number or direction.
 * @example
 * ```ts
 * encodeNewPolicyRequest({ policy: { direction: 'out' },
 *   templates: [{ destination: '192.0.2.1', source: '192.0.2.2', spi: 0xd1201d, reqid: 1 }] });
 * ```
 */
export function encodeNewPolicyRequest(options: XfrmNewPolicyOptions): Uint8Array {
  const body = new Uint8Array(XFRM_USERPOLICY_INFO_LENGTH);
  writePolicyInfo(body, 0, options.policy);
  const templates = new Uint8Array(XFRM_USER_TMPL_LENGTH * options.templates.length);
  options.templates.forEach((t, i) => {
    writeTemplate(templates, i * XFRM_USER_TMPL_LENGTH, t);
  });
  const attributes: NetlinkAttribute[] = [];
  if (options.templates.length > 0) attributes.push({ type: XFRMA_TMPL, value: templates });
  if (options.mark !== undefined) attributes.push(markAttribute(options.mark));
  return encodeNetlinkMessage({
    type: XFRM_MSG_NEWPOLICY,
    flags: options.netlinkFlags ?? DEFAULT_REQUEST_FLAGS,
    body,
    attributes,
  });
}

/**
 * Encodes the value of `setsockopt(IP_XFRM_POLICY / IPV6_XFRM_POLICY)`: one
 * `xfrm_userpolicy_info` directly followed by one `xfrm_user_tmpl` (232 bytes, no netlink
 * framing). Direction must be `in` or `out` (the kernel refuses `fwd` on sockets).
 *
 * @throws {RangeError} when the direction is `fwd` or a number is out of range.
 * @throws {TypeError} on an unparsable template address.
 * @example
 * ```ts
 * // Android's transport-mode policy (the fields netd sets):
 * const value = encodeSocketPolicy(
 *   { direction: 'out', selector: { family: AF_INET }, flags: XFRM_POLICY_LOCALOK, share: XFRM_SHARE_UNIQUE },
 *   { destination: '192.0.2.1', source: '192.0.2.2', spi: 0xd1201d, reqid: 1000, share: XFRM_SHARE_UNIQUE },
 * );
 * value.length; // 232
 * ```
 */
export function encodeSocketPolicy(
  policy: XfrmPolicyInfoInit,
  template: XfrmTemplateInit,
): Uint8Array {
  if (policy.direction === 'fwd')
    throw new RangeError('Cannot encode socket policy: direction must be in or out');
  const out = new Uint8Array(XFRM_USERPOLICY_INFO_LENGTH + XFRM_USER_TMPL_LENGTH);
  writePolicyInfo(out, 0, policy);
  writeTemplate(out, XFRM_USERPOLICY_INFO_LENGTH, template);
  return out;
}

/** A decoded per-socket policy value (for tests and diagnostics). */
export interface XfrmSocketPolicy {
  readonly direction: number;
  readonly action: number;
  readonly flags: number;
  readonly share: number;
  readonly priority: number;
  readonly selector: XfrmSelector;
  readonly template: {
    readonly destination: string;
    readonly source: string;
    readonly spi: number;
    readonly proto: number;
    readonly family: number;
    readonly reqid: number;
    readonly mode: number;
    readonly share: number;
    readonly optional: boolean;
    readonly authAlgorithms: number;
    readonly encryptionAlgorithms: number;
    readonly compressionAlgorithms: number;
  };
}

/**
 * Decodes a value built by {@link encodeSocketPolicy}.
 *
 * @throws {MalformedNetlinkMessageError} when `bytes` is not exactly 232 bytes.
 * @example
 * ```ts
 * decodeSocketPolicy(value).template.spi; // 0xd1201d
 * ```
 */
export function decodeSocketPolicy(bytes: Uint8Array): XfrmSocketPolicy {
  const expected = XFRM_USERPOLICY_INFO_LENGTH + XFRM_USER_TMPL_LENGTH;
  if (bytes.length !== expected) {
    throw new MalformedNetlinkMessageError(
      `Cannot decode socket policy: ${bytes.length} bytes, expected ${expected}`,
    );
  }
  const dv = dataView(bytes);
  const t = XFRM_USERPOLICY_INFO_LENGTH;
  const family = dv.getUint16(t + TMPL_FAMILY_OFFSET, HOST_LITTLE_ENDIAN);
  return {
    direction: dv.getUint8(USERPOLICY_DIR_OFFSET),
    action: dv.getUint8(USERPOLICY_ACTION_OFFSET),
    flags: dv.getUint8(USERPOLICY_FLAGS_OFFSET),
    share: dv.getUint8(USERPOLICY_SHARE_OFFSET),
    priority: dv.getUint32(USERPOLICY_PRIORITY_OFFSET, HOST_LITTLE_ENDIAN),
    selector: readSelector(
      bytes,
      USERPOLICY_SEL_OFFSET,
      dv.getUint16(t + TMPL_FAMILY_OFFSET, HOST_LITTLE_ENDIAN),
    ),
    template: {
      destination: formatXfrmAddress(
        bytes.subarray(t + TMPL_ID_OFFSET + XFRM_ID_DADDR_OFFSET),
        family,
      ),
      source: formatXfrmAddress(bytes.subarray(t + TMPL_SADDR_OFFSET), family),
      spi: dv.getUint32(t + TMPL_ID_OFFSET + XFRM_ID_SPI_OFFSET, false),
      proto: dv.getUint8(t + TMPL_ID_OFFSET + XFRM_ID_PROTO_OFFSET),
      family,
      reqid: dv.getUint32(t + TMPL_REQID_OFFSET, HOST_LITTLE_ENDIAN),
      mode: dv.getUint8(t + TMPL_MODE_OFFSET),
      share: dv.getUint8(t + TMPL_SHARE_OFFSET),
      optional: dv.getUint8(t + TMPL_OPTIONAL_OFFSET) !== 0,
      authAlgorithms: dv.getUint32(t + TMPL_AALGOS_OFFSET, HOST_LITTLE_ENDIAN),
      encryptionAlgorithms: dv.getUint32(t + TMPL_EALGOS_OFFSET, HOST_LITTLE_ENDIAN),
      compressionAlgorithms: dv.getUint32(t + TMPL_CALGOS_OFFSET, HOST_LITTLE_ENDIAN),
    },
  };
}
