/**
 * XFRM netlink layout (include/uapi/linux/xfrm.h, in.h, udp.h): message types, attribute types,
 * flags, and every struct size and field offset the message codec uses, each named once. Sizes and
 * offsets are those of x86_64/arm64 (u64 aligned to 8: `xfrm_usersa_info` is 224 bytes; 32-bit
 * x86 would differ and is not supported); `test/xfrm/messages.test.ts` and
 * `test/xfrm/layout.test.ts` check them against the C compiler and the installed kernel headers.
 */

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

/** `xfrm_algo.alg_name` (and of `xfrm_algo_auth`, `xfrm_algo_aead`): NUL-terminated. */
export const ALGO_NAME_OFFSET = 0;
/** `xfrm_mark.v` (u32). */
export const MARK_VALUE_OFFSET = 0;
/** `xfrm_mark.m` (u32). */
export const MARK_MASK_OFFSET = 4;
/** `xfrm_address_filter.saddr`. */
export const ADDRESS_FILTER_SADDR_OFFSET = 0;
/** `xfrm_address_filter.daddr`. */
export const ADDRESS_FILTER_DADDR_OFFSET = 16;
/** `xfrm_address_filter.family` (u16). */
export const ADDRESS_FILTER_FAMILY_OFFSET = 32;
/** `xfrm_address_filter.splen` (u8). */
export const ADDRESS_FILTER_SPLEN_OFFSET = 34;
/** `xfrm_address_filter.dplen` (u8). */
export const ADDRESS_FILTER_DPLEN_OFFSET = 35;
/** `xfrm_stats.replay_window` (u32). */
export const STATS_REPLAY_WINDOW_OFFSET = 0;
/** `xfrm_stats.replay` (u32). */
export const STATS_REPLAY_OFFSET = 4;
/** `xfrm_stats.integrity_failed` (u32). */
export const STATS_INTEGRITY_FAILED_OFFSET = 8;
/** `xfrm_lifetime_cur.bytes` (u64). */
export const CURLFT_BYTES_OFFSET = 0;
/** `xfrm_lifetime_cur.packets` (u64). */
export const CURLFT_PACKETS_OFFSET = 8;
/** `xfrm_lifetime_cur.add_time` (u64). */
export const CURLFT_ADD_TIME_OFFSET = 16;
/** `xfrm_lifetime_cur.use_time` (u64). */
export const CURLFT_USE_TIME_OFFSET = 24;
/** Size of each `xfrm_lifetime_cfg` field (u64): field `i` is at `i * LIFETIME_FIELD_LENGTH`. */
export const LIFETIME_FIELD_LENGTH = 8;
/** `xfrm_replay_state.oseq` (u32). */
export const REPLAY_STATE_OSEQ_OFFSET = 0;
/** `xfrm_replay_state.seq` (u32). */
export const REPLAY_STATE_SEQ_OFFSET = 4;
/** `xfrm_replay_state.bitmap` (u32). */
export const REPLAY_STATE_BITMAP_OFFSET = 8;
/** One word of the `xfrm_replay_state_esn` bitmap (u32), after the struct. */
export const REPLAY_ESN_WORD_LENGTH = 4;
/** The `XFRMA_IF_ID` value (u32). */
export const XFRM_IF_ID_LENGTH = 4;
/** `xfrm_user_tmpl.aalgos` / `ealgos` default: every algorithm allowed (iproute2's and netd's). */
export const TMPL_ANY_ALGORITHM = 0xffffffff;
