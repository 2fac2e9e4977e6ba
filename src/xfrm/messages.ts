/**
 * XFRM netlink messages (include/uapi/linux/xfrm.h; Android netd's XfrmController):
 * `XFRM_MSG_ALLOCSPI` (`xfrm_userspi_info`), `XFRM_MSG_NEWSA` / `XFRM_MSG_UPDSA`
 * (`xfrm_usersa_info` + algorithm, encap, replay-ESN and mark attributes), `XFRM_MSG_DELSA` /
 * `XFRM_MSG_GETSA` (`xfrm_usersa_id`), the `GETSA` dump, the SA decoder for the kernel's `NEWSA`
 * replies, `XFRM_MSG_NEWPOLICY`, and the per-socket policy value for
 * `setsockopt(IP_XFRM_POLICY / IPV6_XFRM_POLICY)` (`xfrm_userpolicy_info` + `xfrm_user_tmpl`).
 * Pure: bytes in, bytes out.
 *
 * Byte order, field by field (the kernel's, not a choice): `xfrm_address_t`, `xfrm_id.spi`,
 * selector and encap ports are network order (`__be32`/`__be16`); every other integer (`__u16`,
 * `__u32`, `__u64`, `unsigned int`: family, reqid, lifetimes, key lengths, marks, replay counters)
 * is host order ({@link HOST_LITTLE_ENDIAN}). Sizes and offsets are those of x86_64/arm64
 * (u64 aligned to 8: `xfrm_usersa_info` is 224 bytes; 32-bit x86 would differ and is not
 * supported). Every offset is a named constant below; `test/xfrm/messages.test.ts` checks them
 * against the C compiler and the installed kernel headers.
 *
 * Keys: encoders copy keys into the returned request; decoders never return key bytes (the
 * kernel sends them back in `GETSA` replies), only algorithm names and lengths.
 */
import type { AeadName, AuthName, CipherName } from '../esp/transform.ts';
import {
  decodeAttributes,
  encodeNetlinkMessage,
  HOST_LITTLE_ENDIAN,
  type NetlinkAttribute,
  type NetlinkMessage,
  NLA_TYPE_MASK,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
} from '../sys/netlink/message.ts';
import { MalformedNetlinkMessageError } from './errors.ts';
import {
  type AddressFamilyNumber,
  AF_UNSPEC,
  formatXfrmAddress,
  parseXfrmAddress,
  XFRM_ADDRESS_LENGTH,
} from './xfrm_address.ts';

// ---------------------------------------------------------------------------------------------
// Kernel constants (include/uapi/linux/xfrm.h, in.h, udp.h)
// ---------------------------------------------------------------------------------------------

/** `NETLINK_XFRM`: the netlink protocol number of the XFRM configuration interface. */
export const NETLINK_XFRM = 6;

/** `XFRM_MSG_NEWSA`: add an SA (also the type of SA replies and dump entries). */
export const XFRM_MSG_NEWSA = 0x10;
/** `XFRM_MSG_DELSA`. */
export const XFRM_MSG_DELSA = 0x11;
/** `XFRM_MSG_GETSA`: get one SA, or dump all with `NLM_F_DUMP`. */
export const XFRM_MSG_GETSA = 0x12;
/** `XFRM_MSG_NEWPOLICY`. */
export const XFRM_MSG_NEWPOLICY = 0x13;
/** `XFRM_MSG_DELPOLICY`. */
export const XFRM_MSG_DELPOLICY = 0x14;
/** `XFRM_MSG_ALLOCSPI`: reserve an SPI by creating a larval (ACQ) state. */
export const XFRM_MSG_ALLOCSPI = 0x16;
/** `XFRM_MSG_UPDPOLICY`. */
export const XFRM_MSG_UPDPOLICY = 0x19;
/** `XFRM_MSG_UPDSA`: replace a (larval or full) SA; Android always uses it. */
export const XFRM_MSG_UPDSA = 0x1a;
/** `XFRM_MSG_FLUSHSA` (not used: too broad, see `flushOwnedSas` in the socket layer). */
export const XFRM_MSG_FLUSHSA = 0x1c;

/** `XFRMA_ALG_AUTH` (`xfrm_algo`, untruncated; the kernel reports it next to AUTH_TRUNC). */
export const XFRMA_ALG_AUTH = 1;
/** `XFRMA_ALG_CRYPT` (`xfrm_algo`). */
export const XFRMA_ALG_CRYPT = 2;
/** `XFRMA_ENCAP` (`xfrm_encap_tmpl`). */
export const XFRMA_ENCAP = 4;
/** `XFRMA_TMPL` (one or more `xfrm_user_tmpl`). */
export const XFRMA_TMPL = 5;
/** `XFRMA_LTIME_VAL` (`xfrm_lifetime_cur`). */
export const XFRMA_LTIME_VAL = 9;
/** `XFRMA_REPLAY_VAL` (`xfrm_replay_state`, legacy 32-bit window). */
export const XFRMA_REPLAY_VAL = 10;
/** `XFRMA_SRCADDR` (`xfrm_address_t`). */
export const XFRMA_SRCADDR = 13;
/** `XFRMA_ALG_AEAD` (`xfrm_algo_aead`). */
export const XFRMA_ALG_AEAD = 18;
/** `XFRMA_ALG_AUTH_TRUNC` (`xfrm_algo_auth`). */
export const XFRMA_ALG_AUTH_TRUNC = 20;
/** `XFRMA_MARK` (`xfrm_mark`). */
export const XFRMA_MARK = 21;
/** `XFRMA_REPLAY_ESN_VAL` (`xfrm_replay_state_esn` + bitmap words). */
export const XFRMA_REPLAY_ESN_VAL = 23;
/** `XFRMA_ADDRESS_FILTER` (`xfrm_address_filter`, dump requests). */
export const XFRMA_ADDRESS_FILTER = 26;
/** `XFRMA_IF_ID` (u32). */
export const XFRMA_IF_ID = 31;

/** `IPPROTO_ESP`. */
export const IPPROTO_ESP = 50;
/** `XFRM_MODE_TRANSPORT`. */
export const XFRM_MODE_TRANSPORT = 0;
/** `XFRM_MODE_TUNNEL`. */
export const XFRM_MODE_TUNNEL = 1;
/** `XFRM_POLICY_IN` (= Android `DIRECTION_IN`). */
export const XFRM_POLICY_IN = 0;
/** `XFRM_POLICY_OUT` (= Android `DIRECTION_OUT`). */
export const XFRM_POLICY_OUT = 1;
/** `XFRM_POLICY_FWD`. */
export const XFRM_POLICY_FWD = 2;
/** `XFRM_POLICY_ALLOW`. */
export const XFRM_POLICY_ALLOW = 0;
/** `XFRM_POLICY_BLOCK`. */
export const XFRM_POLICY_BLOCK = 1;
/** `XFRM_POLICY_LOCALOK` (policy flag). */
export const XFRM_POLICY_LOCALOK = 1;
/** `XFRM_SHARE_ANY`. */
export const XFRM_SHARE_ANY = 0;
/** `XFRM_SHARE_UNIQUE` (Android's choice). */
export const XFRM_SHARE_UNIQUE = 3;
/** `XFRM_STATE_AF_UNSPEC` (SA flag). */
export const XFRM_STATE_AF_UNSPEC = 32;
/** `XFRM_STATE_ESN` (SA flag: 64-bit extended sequence numbers). */
export const XFRM_STATE_ESN = 128;
/** `XFRM_INF`: "no limit" in lifetime limits. */
export const XFRM_INF = 0xffff_ffff_ffff_ffffn;
/** `UDP_ENCAP_ESPINUDP_NON_IKE` (encap type, draft-ietf-ipsec-udp-encaps-00). */
export const UDP_ENCAP_ESPINUDP_NON_IKE = 1;
/** `UDP_ENCAP_ESPINUDP` (encap type, RFC 3948). */
export const UDP_ENCAP_ESPINUDP = 2;
/** `XFRMA_REPLAY_ESN_MAX`: the largest replay window the kernel accepts, in packets. */
export const XFRMA_REPLAY_ESN_MAX = 4096;

// ---------------------------------------------------------------------------------------------
// Struct layouts (x86_64/arm64)
// ---------------------------------------------------------------------------------------------

/** `sizeof(struct xfrm_selector)`. */
export const XFRM_SELECTOR_LENGTH = 56;
/** `xfrm_selector.daddr` (xfrm_address_t, network order). */
export const SELECTOR_DADDR_OFFSET = 0;
/** `xfrm_selector.saddr`. */
export const SELECTOR_SADDR_OFFSET = 16;
/** `xfrm_selector.dport` (__be16). */
export const SELECTOR_DPORT_OFFSET = 32;
/** `xfrm_selector.dport_mask` (__be16). */
export const SELECTOR_DPORT_MASK_OFFSET = 34;
/** `xfrm_selector.sport` (__be16). */
export const SELECTOR_SPORT_OFFSET = 36;
/** `xfrm_selector.sport_mask` (__be16). */
export const SELECTOR_SPORT_MASK_OFFSET = 38;
/** `xfrm_selector.family` (u16). */
export const SELECTOR_FAMILY_OFFSET = 40;
/** `xfrm_selector.prefixlen_d` (u8). */
export const SELECTOR_PREFIXLEN_D_OFFSET = 42;
/** `xfrm_selector.prefixlen_s` (u8). */
export const SELECTOR_PREFIXLEN_S_OFFSET = 43;
/** `xfrm_selector.proto` (u8). */
export const SELECTOR_PROTO_OFFSET = 44;
/** `xfrm_selector.ifindex` (int). */
export const SELECTOR_IFINDEX_OFFSET = 48;
/** `xfrm_selector.user` (uid). */
export const SELECTOR_USER_OFFSET = 52;

/** `sizeof(struct xfrm_id)`. */
export const XFRM_ID_LENGTH = 24;
/** `xfrm_id.daddr`. */
export const XFRM_ID_DADDR_OFFSET = 0;
/** `xfrm_id.spi` (__be32). */
export const XFRM_ID_SPI_OFFSET = 16;
/** `xfrm_id.proto` (u8). */
export const XFRM_ID_PROTO_OFFSET = 20;

/** `sizeof(struct xfrm_lifetime_cfg)`: eight u64 (byte/packet soft/hard limits, add/use expiries). */
export const XFRM_LIFETIME_CFG_LENGTH = 64;
/** `sizeof(struct xfrm_lifetime_cur)`: bytes, packets, add_time, use_time (u64). */
export const XFRM_LIFETIME_CUR_LENGTH = 32;
/** `sizeof(struct xfrm_stats)`: replay_window, replay, integrity_failed (u32). */
export const XFRM_STATS_LENGTH = 12;

/** `sizeof(struct xfrm_usersa_info)` on x86_64. */
export const XFRM_USERSA_INFO_LENGTH = 224;
/** `xfrm_usersa_info.sel`. */
export const USERSA_SEL_OFFSET = 0;
/** `xfrm_usersa_info.id`. */
export const USERSA_ID_OFFSET = 56;
/** `xfrm_usersa_info.saddr`. */
export const USERSA_SADDR_OFFSET = 80;
/** `xfrm_usersa_info.lft`. */
export const USERSA_LFT_OFFSET = 96;
/** `xfrm_usersa_info.curlft`. */
export const USERSA_CURLFT_OFFSET = 160;
/** `xfrm_usersa_info.stats`. */
export const USERSA_STATS_OFFSET = 192;
/** `xfrm_usersa_info.seq` (u32). */
export const USERSA_SEQ_OFFSET = 204;
/** `xfrm_usersa_info.reqid` (u32). */
export const USERSA_REQID_OFFSET = 208;
/** `xfrm_usersa_info.family` (u16). */
export const USERSA_FAMILY_OFFSET = 212;
/** `xfrm_usersa_info.mode` (u8). */
export const USERSA_MODE_OFFSET = 214;
/** `xfrm_usersa_info.replay_window` (u8). */
export const USERSA_REPLAY_WINDOW_OFFSET = 215;
/** `xfrm_usersa_info.flags` (u8). */
export const USERSA_FLAGS_OFFSET = 216;

/** `sizeof(struct xfrm_usersa_id)`. */
export const XFRM_USERSA_ID_LENGTH = 24;
/** `xfrm_usersa_id.daddr`. */
export const USERSA_ID_DADDR_OFFSET = 0;
/** `xfrm_usersa_id.spi` (__be32). */
export const USERSA_ID_SPI_OFFSET = 16;
/** `xfrm_usersa_id.family` (u16). */
export const USERSA_ID_FAMILY_OFFSET = 20;
/** `xfrm_usersa_id.proto` (u8). */
export const USERSA_ID_PROTO_OFFSET = 22;

/** `sizeof(struct xfrm_userspi_info)`. */
export const XFRM_USERSPI_INFO_LENGTH = 232;
/** `xfrm_userspi_info.min` (u32, host order). */
export const USERSPI_MIN_OFFSET = 224;
/** `xfrm_userspi_info.max` (u32, host order). */
export const USERSPI_MAX_OFFSET = 228;

/** `sizeof(struct xfrm_userpolicy_info)`. */
export const XFRM_USERPOLICY_INFO_LENGTH = 168;
/** `xfrm_userpolicy_info.sel`. */
export const USERPOLICY_SEL_OFFSET = 0;
/** `xfrm_userpolicy_info.lft`. */
export const USERPOLICY_LFT_OFFSET = 56;
/** `xfrm_userpolicy_info.curlft`. */
export const USERPOLICY_CURLFT_OFFSET = 120;
/** `xfrm_userpolicy_info.priority` (u32). */
export const USERPOLICY_PRIORITY_OFFSET = 152;
/** `xfrm_userpolicy_info.index` (u32). */
export const USERPOLICY_INDEX_OFFSET = 156;
/** `xfrm_userpolicy_info.dir` (u8). */
export const USERPOLICY_DIR_OFFSET = 160;
/** `xfrm_userpolicy_info.action` (u8). */
export const USERPOLICY_ACTION_OFFSET = 161;
/** `xfrm_userpolicy_info.flags` (u8). */
export const USERPOLICY_FLAGS_OFFSET = 162;
/** `xfrm_userpolicy_info.share` (u8). */
export const USERPOLICY_SHARE_OFFSET = 163;

/** `sizeof(struct xfrm_user_tmpl)`. */
export const XFRM_USER_TMPL_LENGTH = 64;
/** `xfrm_user_tmpl.id`. */
export const TMPL_ID_OFFSET = 0;
/** `xfrm_user_tmpl.family` (u16). */
export const TMPL_FAMILY_OFFSET = 24;
/** `xfrm_user_tmpl.saddr`. */
export const TMPL_SADDR_OFFSET = 28;
/** `xfrm_user_tmpl.reqid` (u32). */
export const TMPL_REQID_OFFSET = 44;
/** `xfrm_user_tmpl.mode` (u8). */
export const TMPL_MODE_OFFSET = 48;
/** `xfrm_user_tmpl.share` (u8). */
export const TMPL_SHARE_OFFSET = 49;
/** `xfrm_user_tmpl.optional` (u8). */
export const TMPL_OPTIONAL_OFFSET = 50;
/** `xfrm_user_tmpl.aalgos` (u32 bit mask). */
export const TMPL_AALGOS_OFFSET = 52;
/** `xfrm_user_tmpl.ealgos` (u32 bit mask). */
export const TMPL_EALGOS_OFFSET = 56;
/** `xfrm_user_tmpl.calgos` (u32 bit mask). */
export const TMPL_CALGOS_OFFSET = 60;

/** `sizeof(struct xfrm_encap_tmpl)`. */
export const XFRM_ENCAP_TMPL_LENGTH = 24;
/** `xfrm_encap_tmpl.encap_type` (u16). */
export const ENCAP_TYPE_OFFSET = 0;
/** `xfrm_encap_tmpl.encap_sport` (__be16). */
export const ENCAP_SPORT_OFFSET = 2;
/** `xfrm_encap_tmpl.encap_dport` (__be16). */
export const ENCAP_DPORT_OFFSET = 4;
/** `xfrm_encap_tmpl.encap_oa` (xfrm_address_t). */
export const ENCAP_OA_OFFSET = 8;

/** `sizeof(alg_name)` in `xfrm_algo*` (NUL-terminated, so names are at most 63 bytes). */
export const XFRM_ALGO_NAME_LENGTH = 64;
/** `sizeof(struct xfrm_algo)` without the key: name, `alg_key_len` (bits, u32). */
export const XFRM_ALGO_LENGTH = 68;
/** `sizeof(struct xfrm_algo_auth)` / `xfrm_algo_aead` without the key: + trunc/ICV bits (u32). */
export const XFRM_ALGO_AUTH_LENGTH = 72;
/** Offset of `alg_key_len` in every `xfrm_algo*`. */
export const ALGO_KEY_LENGTH_OFFSET = 64;
/** Offset of `alg_trunc_len` / `alg_icv_len` in `xfrm_algo_auth` / `xfrm_algo_aead`. */
export const ALGO_TRUNC_LENGTH_OFFSET = 68;

/** `sizeof(struct xfrm_replay_state_esn)` without the bitmap. */
export const XFRM_REPLAY_ESN_LENGTH = 24;
/** `xfrm_replay_state_esn.bmp_len` (u32, number of 32-bit bitmap words). */
export const REPLAY_ESN_BMP_LEN_OFFSET = 0;
/** `xfrm_replay_state_esn.oseq`. */
export const REPLAY_ESN_OSEQ_OFFSET = 4;
/** `xfrm_replay_state_esn.seq`. */
export const REPLAY_ESN_SEQ_OFFSET = 8;
/** `xfrm_replay_state_esn.oseq_hi`. */
export const REPLAY_ESN_OSEQ_HI_OFFSET = 12;
/** `xfrm_replay_state_esn.seq_hi`. */
export const REPLAY_ESN_SEQ_HI_OFFSET = 16;
/** `xfrm_replay_state_esn.replay_window` (packets). */
export const REPLAY_ESN_WINDOW_OFFSET = 20;
/** `sizeof(struct xfrm_replay_state)`: oseq, seq, bitmap (u32). */
export const XFRM_REPLAY_STATE_LENGTH = 12;

/** `sizeof(struct xfrm_mark)`: value, mask (u32). */
export const XFRM_MARK_LENGTH = 8;
/** `sizeof(struct xfrm_address_filter)`: saddr, daddr, family (u16), splen, dplen (u8). */
export const XFRM_ADDRESS_FILTER_LENGTH = 36;

// --- implementation limits ---
/** Largest key accepted (netd's `MAX_KEY_LENGTH`, bytes). */
export const MAX_KEY_LENGTH = 128;

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

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

/** The `xfrm_usersa_info` fields a request sets (netd's XfrmController sets the same ones). */
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

/** Current-lifetime counters of an SA (`xfrm_lifetime_cur`). Times are seconds since the epoch. */
export interface XfrmLifetimeCurrent {
  readonly bytes: bigint;
  readonly packets: bigint;
  readonly addTime: bigint;
  readonly useTime: bigint;
}

/** A decoded `XFRMA_REPLAY_ESN_VAL`. */
export interface XfrmReplayEsn {
  readonly bmpLength: number;
  readonly oseq: number;
  readonly seq: number;
  readonly oseqHi: number;
  readonly seqHi: number;
  readonly replayWindow: number;
  /** Bitmap words as sent by the kernel (may be shorter than `bmpLength` if truncated). */
  readonly bitmap: readonly number[];
}

/** An SA as the kernel reports it (`XFRM_MSG_NEWSA` reply or dump entry). No key bytes. */
export interface XfrmSaState {
  readonly destination: string;
  readonly source: string;
  readonly spi: number;
  readonly proto: number;
  readonly family: number;
  readonly reqid: number;
  readonly mode: number;
  readonly replayWindow: number;
  readonly flags: number;
  readonly seq: number;
  readonly selector: XfrmSelector;
  readonly lifetime: XfrmLifetimeConfig;
  readonly current: XfrmLifetimeCurrent;
  readonly stats: {
    readonly replayWindow: number;
    readonly replay: number;
    readonly integrityFailed: number;
  };
  readonly aead?: {
    readonly name: string;
    readonly keyLengthBits: number;
    readonly icvLengthBits: number;
  };
  readonly cipher?: { readonly name: string; readonly keyLengthBits: number };
  readonly auth?: {
    readonly name: string;
    readonly keyLengthBits: number;
    readonly truncationLengthBits: number;
  };
  readonly encap?: {
    readonly type: number;
    readonly sourcePort: number;
    readonly destinationPort: number;
    readonly originalAddress: string;
  };
  readonly mark?: XfrmMark;
  readonly replayEsn?: XfrmReplayEsn;
  readonly replayState?: { readonly oseq: number; readonly seq: number; readonly bitmap: number };
  readonly ifId?: number;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const DEFAULT_REQUEST_FLAGS = NLM_F_REQUEST | NLM_F_ACK;

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkUint(value: number, bits: 8 | 16 | 32, what: string): number {
  const max = 2 ** bits - 1;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Cannot encode ${what}: ${value} is not an integer in 0..${max}`);
  }
  return value;
}

function modeNumber(mode: XfrmMode | undefined): number {
  return mode === 'tunnel' ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
}

function directionNumber(direction: XfrmDirection): number {
  if (direction === 'in') return XFRM_POLICY_IN;
  if (direction === 'out') return XFRM_POLICY_OUT;
  if (direction === 'fwd') return XFRM_POLICY_FWD;
  throw new RangeError(
    `Cannot encode policy direction "${String(direction)}": expected in, out or fwd`,
  );
}

/** Parses a destination/source pair; the source must be empty or of the destination's family. */
function parsePair(destination: string, source: string | undefined, what: string) {
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

function writeSelector(dv: DataView, base: number, init: XfrmSelectorInit | undefined): void {
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
function readSelector(bytes: Uint8Array, base: number, fallbackFamily = AF_UNSPEC): XfrmSelector {
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

function writeLifetime(dv: DataView, base: number, lifetime: XfrmLifetimeConfig): void {
  LIFETIME_FIELDS.forEach((field, i) => {
    dv.setBigUint64(base + 8 * i, BigInt.asUintN(64, lifetime[field]), HOST_LITTLE_ENDIAN);
  });
}

function readLifetime(dv: DataView, base: number): XfrmLifetimeConfig {
  const read = (i: number) => dv.getBigUint64(base + 8 * i, HOST_LITTLE_ENDIAN);
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
  out.set(encoded, 0);
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

function markAttribute(mark: XfrmMark): NetlinkAttribute {
  const value = new Uint8Array(XFRM_MARK_LENGTH);
  const dv = dataView(value);
  dv.setUint32(0, checkUint(mark.value, 32, 'mark'), HOST_LITTLE_ENDIAN);
  dv.setUint32(4, checkUint(mark.mask, 32, 'mark mask'), HOST_LITTLE_ENDIAN);
  return { type: XFRMA_MARK, value };
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
  const value = new Uint8Array(XFRM_REPLAY_ESN_LENGTH + 4 * words.length);
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
      XFRM_REPLAY_ESN_LENGTH + 4 * i,
      checkUint(word, 32, 'bitmap word'),
      HOST_LITTLE_ENDIAN,
    );
  });
  return { type: XFRMA_REPLAY_ESN_VAL, value };
}

function addressAttribute(type: number, address: Uint8Array): NetlinkAttribute {
  return { type, value: address.slice() };
}

// ---------------------------------------------------------------------------------------------
// Encoders
// ---------------------------------------------------------------------------------------------

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
    value.set(src.bytes, 0);
    value.set(dst.bytes, XFRM_ADDRESS_LENGTH);
    dv.setUint16(32, filter.family ?? AF_UNSPEC, HOST_LITTLE_ENDIAN);
    dv.setUint8(34, checkUint(filter.sourcePrefixLength ?? 0, 8, 'prefix length'));
    dv.setUint8(35, checkUint(filter.destinationPrefixLength ?? 0, 8, 'prefix length'));
    attributes.push({ type: XFRMA_ADDRESS_FILTER, value });
  }
  return encodeNetlinkMessage({
    type: XFRM_MSG_GETSA,
    flags: NLM_F_REQUEST | NLM_F_DUMP,
    body: new Uint8Array(0),
    attributes,
  });
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
    algos(init.authAlgorithms, 0xffffffff, 'aalgos'),
    HOST_LITTLE_ENDIAN,
  );
  dv.setUint32(
    base + TMPL_EALGOS_OFFSET,
    algos(init.encryptionAlgorithms, 0xffffffff, 'ealgos'),
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
 * // Android's transport-mode policy (netd's XfrmController):
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

// ---------------------------------------------------------------------------------------------
// Decoders
// ---------------------------------------------------------------------------------------------

function readName(value: Uint8Array): string {
  const field = value.subarray(0, XFRM_ALGO_NAME_LENGTH);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

function needLength(value: Uint8Array, length: number, what: string): DataView {
  if (value.length < length) {
    throw new MalformedNetlinkMessageError(
      `Cannot decode ${what}: ${value.length} bytes, expected at least ${length}`,
    );
  }
  return dataView(value);
}

/**
 * Decodes an SA message from the kernel (`XFRM_MSG_NEWSA`/`UPDSA`: the reply to ALLOCSPI and
 * GETSA, and every dump entry): `xfrm_usersa_info` plus the attributes tsnetd uses. Key bytes are
 * skipped, never returned.
 *
 * @throws {MalformedNetlinkMessageError} on a wrong type, short payload or malformed attribute.
 * @example
 * ```ts
 * const sa = decodeSaMessage(reply);
 * sa.spi; sa.current.packets; sa.replayEsn?.seq;
 * ```
 */
export function decodeSaMessage(message: NetlinkMessage): XfrmSaState {
  if (message.type !== XFRM_MSG_NEWSA && message.type !== XFRM_MSG_UPDSA) {
    throw new MalformedNetlinkMessageError(
      `Cannot decode SA: message type 0x${message.type.toString(16)} is not NEWSA`,
    );
  }
  const p = message.payload;
  const dv = needLength(p, XFRM_USERSA_INFO_LENGTH, 'xfrm_usersa_info');
  const family = dv.getUint16(USERSA_FAMILY_OFFSET, HOST_LITTLE_ENDIAN);
  const cur = (i: number) => dv.getBigUint64(USERSA_CURLFT_OFFSET + 8 * i, HOST_LITTLE_ENDIAN);
  let state: XfrmSaState = {
    destination: formatXfrmAddress(p.subarray(USERSA_ID_OFFSET + XFRM_ID_DADDR_OFFSET), family),
    source: formatXfrmAddress(p.subarray(USERSA_SADDR_OFFSET), family),
    spi: dv.getUint32(USERSA_ID_OFFSET + XFRM_ID_SPI_OFFSET, false),
    proto: dv.getUint8(USERSA_ID_OFFSET + XFRM_ID_PROTO_OFFSET),
    family,
    reqid: dv.getUint32(USERSA_REQID_OFFSET, HOST_LITTLE_ENDIAN),
    mode: dv.getUint8(USERSA_MODE_OFFSET),
    replayWindow: dv.getUint8(USERSA_REPLAY_WINDOW_OFFSET),
    flags: dv.getUint8(USERSA_FLAGS_OFFSET),
    seq: dv.getUint32(USERSA_SEQ_OFFSET, HOST_LITTLE_ENDIAN),
    selector: readSelector(p, USERSA_SEL_OFFSET, family),
    lifetime: readLifetime(dv, USERSA_LFT_OFFSET),
    current: { bytes: cur(0), packets: cur(1), addTime: cur(2), useTime: cur(3) },
    stats: {
      replayWindow: dv.getUint32(USERSA_STATS_OFFSET, HOST_LITTLE_ENDIAN),
      replay: dv.getUint32(USERSA_STATS_OFFSET + 4, HOST_LITTLE_ENDIAN),
      integrityFailed: dv.getUint32(USERSA_STATS_OFFSET + 8, HOST_LITTLE_ENDIAN),
    },
  };
  // NLMSG_ALIGN(sizeof(xfrm_usersa_info)) = 224: attributes start right after the struct.
  for (const a of decodeAttributes(p.subarray(XFRM_USERSA_INFO_LENGTH))) {
    const v = a.value;
    switch (a.type & NLA_TYPE_MASK) {
      case XFRMA_ALG_AEAD: {
        const d = needLength(v, XFRM_ALGO_AUTH_LENGTH, 'XFRMA_ALG_AEAD');
        state = {
          ...state,
          aead: {
            name: readName(v),
            keyLengthBits: d.getUint32(ALGO_KEY_LENGTH_OFFSET, HOST_LITTLE_ENDIAN),
            icvLengthBits: d.getUint32(ALGO_TRUNC_LENGTH_OFFSET, HOST_LITTLE_ENDIAN),
          },
        };
        break;
      }
      case XFRMA_ALG_CRYPT: {
        const d = needLength(v, XFRM_ALGO_LENGTH, 'XFRMA_ALG_CRYPT');
        state = {
          ...state,
          cipher: {
            name: readName(v),
            keyLengthBits: d.getUint32(ALGO_KEY_LENGTH_OFFSET, HOST_LITTLE_ENDIAN),
          },
        };
        break;
      }
      case XFRMA_ALG_AUTH_TRUNC: {
        const d = needLength(v, XFRM_ALGO_AUTH_LENGTH, 'XFRMA_ALG_AUTH_TRUNC');
        state = {
          ...state,
          auth: {
            name: readName(v),
            keyLengthBits: d.getUint32(ALGO_KEY_LENGTH_OFFSET, HOST_LITTLE_ENDIAN),
            truncationLengthBits: d.getUint32(ALGO_TRUNC_LENGTH_OFFSET, HOST_LITTLE_ENDIAN),
          },
        };
        break;
      }
      case XFRMA_ENCAP: {
        const d = needLength(v, XFRM_ENCAP_TMPL_LENGTH, 'XFRMA_ENCAP');
        state = {
          ...state,
          encap: {
            type: d.getUint16(ENCAP_TYPE_OFFSET, HOST_LITTLE_ENDIAN),
            sourcePort: d.getUint16(ENCAP_SPORT_OFFSET, false),
            destinationPort: d.getUint16(ENCAP_DPORT_OFFSET, false),
            originalAddress: formatXfrmAddress(v.subarray(ENCAP_OA_OFFSET), family),
          },
        };
        break;
      }
      case XFRMA_MARK: {
        const d = needLength(v, XFRM_MARK_LENGTH, 'XFRMA_MARK');
        state = {
          ...state,
          mark: {
            value: d.getUint32(0, HOST_LITTLE_ENDIAN),
            mask: d.getUint32(4, HOST_LITTLE_ENDIAN),
          },
        };
        break;
      }
      case XFRMA_REPLAY_ESN_VAL: {
        const d = needLength(v, XFRM_REPLAY_ESN_LENGTH, 'XFRMA_REPLAY_ESN_VAL');
        const bmpLength = d.getUint32(REPLAY_ESN_BMP_LEN_OFFSET, HOST_LITTLE_ENDIAN);
        const available = Math.min(bmpLength, Math.floor((v.length - XFRM_REPLAY_ESN_LENGTH) / 4));
        const bitmap: number[] = [];
        for (let i = 0; i < available; i++) {
          bitmap.push(d.getUint32(XFRM_REPLAY_ESN_LENGTH + 4 * i, HOST_LITTLE_ENDIAN));
        }
        state = {
          ...state,
          replayEsn: {
            bmpLength,
            oseq: d.getUint32(REPLAY_ESN_OSEQ_OFFSET, HOST_LITTLE_ENDIAN),
            seq: d.getUint32(REPLAY_ESN_SEQ_OFFSET, HOST_LITTLE_ENDIAN),
            oseqHi: d.getUint32(REPLAY_ESN_OSEQ_HI_OFFSET, HOST_LITTLE_ENDIAN),
            seqHi: d.getUint32(REPLAY_ESN_SEQ_HI_OFFSET, HOST_LITTLE_ENDIAN),
            replayWindow: d.getUint32(REPLAY_ESN_WINDOW_OFFSET, HOST_LITTLE_ENDIAN),
            bitmap,
          },
        };
        break;
      }
      case XFRMA_REPLAY_VAL: {
        const d = needLength(v, XFRM_REPLAY_STATE_LENGTH, 'XFRMA_REPLAY_VAL');
        state = {
          ...state,
          replayState: {
            oseq: d.getUint32(0, HOST_LITTLE_ENDIAN),
            seq: d.getUint32(4, HOST_LITTLE_ENDIAN),
            bitmap: d.getUint32(8, HOST_LITTLE_ENDIAN),
          },
        };
        break;
      }
      case XFRMA_IF_ID: {
        const d = needLength(v, 4, 'XFRMA_IF_ID');
        state = { ...state, ifId: d.getUint32(0, HOST_LITTLE_ENDIAN) };
        break;
      }
      default:
        break; // XFRMA_ALG_AUTH (untruncated duplicate), LTIME_VAL, SA_EXTRA_FLAGS, …: not needed
    }
  }
  return state;
}

/** Family number of an address text (`''` → AF_UNSPEC). */
export function addressFamilyOf(address: string): AddressFamilyNumber {
  return parseXfrmAddress(address).family;
}
