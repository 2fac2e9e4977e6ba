/**
 * The offsets the message codec names for fields it used to address with bare numbers (marks,
 * address filters, SA statistics, current lifetimes, the legacy replay state, algorithm names),
 * checked against gcc on the installed kernel uapi headers — an oracle nobody here wrote.
 * test/xfrm/messages.test.ts checks the older constants the same way.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as L from '../../src/xfrm/layout.ts';
import { assertLayoutMatchesGcc } from './_gcc_layout.ts';

/** [C expression, our constant] pairs. */
const LAYOUT: ReadonlyArray<readonly [string, number]> = [
  ['offsetof(struct xfrm_algo, alg_name)', L.ALGO_NAME_OFFSET],
  ['offsetof(struct xfrm_algo_auth, alg_name)', L.ALGO_NAME_OFFSET],
  ['offsetof(struct xfrm_algo_aead, alg_name)', L.ALGO_NAME_OFFSET],
  ['offsetof(struct xfrm_algo, alg_key_len)', L.ALGO_KEY_LENGTH_OFFSET],
  ['offsetof(struct xfrm_mark, v)', L.MARK_VALUE_OFFSET],
  ['offsetof(struct xfrm_mark, m)', L.MARK_MASK_OFFSET],
  ['offsetof(struct xfrm_address_filter, saddr)', L.ADDRESS_FILTER_SADDR_OFFSET],
  ['offsetof(struct xfrm_address_filter, daddr)', L.ADDRESS_FILTER_DADDR_OFFSET],
  ['offsetof(struct xfrm_address_filter, family)', L.ADDRESS_FILTER_FAMILY_OFFSET],
  ['offsetof(struct xfrm_address_filter, splen)', L.ADDRESS_FILTER_SPLEN_OFFSET],
  ['offsetof(struct xfrm_address_filter, dplen)', L.ADDRESS_FILTER_DPLEN_OFFSET],
  ['offsetof(struct xfrm_stats, replay_window)', L.STATS_REPLAY_WINDOW_OFFSET],
  ['offsetof(struct xfrm_stats, replay)', L.STATS_REPLAY_OFFSET],
  ['offsetof(struct xfrm_stats, integrity_failed)', L.STATS_INTEGRITY_FAILED_OFFSET],
  ['offsetof(struct xfrm_lifetime_cur, bytes)', L.CURLFT_BYTES_OFFSET],
  ['offsetof(struct xfrm_lifetime_cur, packets)', L.CURLFT_PACKETS_OFFSET],
  ['offsetof(struct xfrm_lifetime_cur, add_time)', L.CURLFT_ADD_TIME_OFFSET],
  ['offsetof(struct xfrm_lifetime_cur, use_time)', L.CURLFT_USE_TIME_OFFSET],
  ['offsetof(struct xfrm_lifetime_cfg, hard_byte_limit)', L.LIFETIME_FIELD_LENGTH],
  ['offsetof(struct xfrm_lifetime_cfg, hard_use_expires_seconds)', 7 * L.LIFETIME_FIELD_LENGTH],
  ['sizeof(struct xfrm_lifetime_cfg)', 8 * L.LIFETIME_FIELD_LENGTH],
  ['offsetof(struct xfrm_replay_state, oseq)', L.REPLAY_STATE_OSEQ_OFFSET],
  ['offsetof(struct xfrm_replay_state, seq)', L.REPLAY_STATE_SEQ_OFFSET],
  ['offsetof(struct xfrm_replay_state, bitmap)', L.REPLAY_STATE_BITMAP_OFFSET],
  ['sizeof(((struct xfrm_replay_state_esn *)0)->bmp[0])', L.REPLAY_ESN_WORD_LENGTH],
  ['offsetof(struct xfrm_replay_state_esn, bmp)', L.XFRM_REPLAY_ESN_LENGTH],
  ['offsetof(struct xfrm_id, daddr)', L.XFRM_ID_DADDR_OFFSET],
  ['offsetof(struct xfrm_usersa_id, daddr)', L.USERSA_ID_DADDR_OFFSET],
  ['offsetof(struct xfrm_encap_tmpl, encap_type)', L.ENCAP_TYPE_OFFSET],
  ['offsetof(struct xfrm_replay_state_esn, bmp_len)', L.REPLAY_ESN_BMP_LEN_OFFSET],
  ['offsetof(struct xfrm_usersa_info, sel)', L.USERSA_SEL_OFFSET],
  ['offsetof(struct xfrm_userpolicy_info, sel)', L.USERPOLICY_SEL_OFFSET],
  ['offsetof(struct xfrm_user_tmpl, id)', L.TMPL_ID_OFFSET],
  ['offsetof(struct xfrm_selector, daddr)', L.SELECTOR_DADDR_OFFSET],
];

test('the newly named offsets match gcc on the kernel uapi headers', async () => {
  await assertLayoutMatchesGcc(['stddef.h', 'stdio.h', 'netinet/in.h', 'linux/xfrm.h'], LAYOUT);
});

test('the template algorithm masks default to "any", as iproute2 and netd send them', () => {
  assert.equal(L.TMPL_ANY_ALGORITHM, 0xffff_ffff);
});
