/**
 * The SA decoder: the kernel's `XFRM_MSG_NEWSA` messages (replies to `ALLOCSPI` and `GETSA`,
 * every dump entry) read into {@link XfrmSaState}. Key bytes are skipped, never returned (the
 * kernel sends them back in `GETSA` replies): only algorithm names and lengths.
 */
import {
  decodeAttributes,
  HOST_LITTLE_ENDIAN,
  type NetlinkMessage,
  NLA_TYPE_MASK,
} from '../sys/netlink/message.ts';
import { MalformedNetlinkMessageError } from './errors.ts';
import {
  ALGO_KEY_LENGTH_OFFSET,
  ALGO_NAME_OFFSET,
  ALGO_TRUNC_LENGTH_OFFSET,
  CURLFT_ADD_TIME_OFFSET,
  CURLFT_BYTES_OFFSET,
  CURLFT_PACKETS_OFFSET,
  CURLFT_USE_TIME_OFFSET,
  ENCAP_DPORT_OFFSET,
  ENCAP_OA_OFFSET,
  ENCAP_SPORT_OFFSET,
  ENCAP_TYPE_OFFSET,
  MARK_MASK_OFFSET,
  MARK_VALUE_OFFSET,
  REPLAY_ESN_BMP_LEN_OFFSET,
  REPLAY_ESN_OSEQ_HI_OFFSET,
  REPLAY_ESN_OSEQ_OFFSET,
  REPLAY_ESN_SEQ_HI_OFFSET,
  REPLAY_ESN_SEQ_OFFSET,
  REPLAY_ESN_WINDOW_OFFSET,
  REPLAY_ESN_WORD_LENGTH,
  REPLAY_STATE_BITMAP_OFFSET,
  REPLAY_STATE_OSEQ_OFFSET,
  REPLAY_STATE_SEQ_OFFSET,
  STATS_INTEGRITY_FAILED_OFFSET,
  STATS_REPLAY_OFFSET,
  STATS_REPLAY_WINDOW_OFFSET,
  USERSA_CURLFT_OFFSET,
  USERSA_FAMILY_OFFSET,
  USERSA_FLAGS_OFFSET,
  USERSA_ID_OFFSET,
  USERSA_LFT_OFFSET,
  USERSA_MODE_OFFSET,
  USERSA_REPLAY_WINDOW_OFFSET,
  USERSA_REQID_OFFSET,
  USERSA_SADDR_OFFSET,
  USERSA_SEL_OFFSET,
  USERSA_SEQ_OFFSET,
  USERSA_STATS_OFFSET,
  XFRM_ALGO_AUTH_LENGTH,
  XFRM_ALGO_LENGTH,
  XFRM_ALGO_NAME_LENGTH,
  XFRM_ENCAP_TMPL_LENGTH,
  XFRM_ID_DADDR_OFFSET,
  XFRM_ID_PROTO_OFFSET,
  XFRM_ID_SPI_OFFSET,
  XFRM_IF_ID_LENGTH,
  XFRM_MARK_LENGTH,
  XFRM_MSG_NEWSA,
  XFRM_MSG_UPDSA,
  XFRM_REPLAY_ESN_LENGTH,
  XFRM_REPLAY_STATE_LENGTH,
  XFRM_USERSA_INFO_LENGTH,
  XFRMA_ALG_AEAD,
  XFRMA_ALG_AUTH_TRUNC,
  XFRMA_ALG_CRYPT,
  XFRMA_ENCAP,
  XFRMA_IF_ID,
  XFRMA_MARK,
  XFRMA_REPLAY_ESN_VAL,
  XFRMA_REPLAY_VAL,
} from './layout.ts';
import {
  dataView,
  readLifetime,
  readSelector,
  type XfrmLifetimeConfig,
  type XfrmMark,
  type XfrmSelector,
} from './structs.ts';
import { formatXfrmAddress } from './xfrm_address.ts';

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

function readName(value: Uint8Array): string {
  const field = value.subarray(ALGO_NAME_OFFSET, ALGO_NAME_OFFSET + XFRM_ALGO_NAME_LENGTH);
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
  const cur = (offset: number) =>
    dv.getBigUint64(USERSA_CURLFT_OFFSET + offset, HOST_LITTLE_ENDIAN);
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
    current: {
      bytes: cur(CURLFT_BYTES_OFFSET),
      packets: cur(CURLFT_PACKETS_OFFSET),
      addTime: cur(CURLFT_ADD_TIME_OFFSET),
      useTime: cur(CURLFT_USE_TIME_OFFSET),
    },
    stats: {
      replayWindow: dv.getUint32(
        USERSA_STATS_OFFSET + STATS_REPLAY_WINDOW_OFFSET,
        HOST_LITTLE_ENDIAN,
      ),
      replay: dv.getUint32(USERSA_STATS_OFFSET + STATS_REPLAY_OFFSET, HOST_LITTLE_ENDIAN),
      integrityFailed: dv.getUint32(
        USERSA_STATS_OFFSET + STATS_INTEGRITY_FAILED_OFFSET,
        HOST_LITTLE_ENDIAN,
      ),
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
            value: d.getUint32(MARK_VALUE_OFFSET, HOST_LITTLE_ENDIAN),
            mask: d.getUint32(MARK_MASK_OFFSET, HOST_LITTLE_ENDIAN),
          },
        };
        break;
      }
      case XFRMA_REPLAY_ESN_VAL: {
        const d = needLength(v, XFRM_REPLAY_ESN_LENGTH, 'XFRMA_REPLAY_ESN_VAL');
        const bmpLength = d.getUint32(REPLAY_ESN_BMP_LEN_OFFSET, HOST_LITTLE_ENDIAN);
        const available = Math.min(
          bmpLength,
          Math.floor((v.length - XFRM_REPLAY_ESN_LENGTH) / REPLAY_ESN_WORD_LENGTH),
        );
        const bitmap: number[] = [];
        for (let i = 0; i < available; i++) {
          bitmap.push(
            d.getUint32(XFRM_REPLAY_ESN_LENGTH + REPLAY_ESN_WORD_LENGTH * i, HOST_LITTLE_ENDIAN),
          );
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
            oseq: d.getUint32(REPLAY_STATE_OSEQ_OFFSET, HOST_LITTLE_ENDIAN),
            seq: d.getUint32(REPLAY_STATE_SEQ_OFFSET, HOST_LITTLE_ENDIAN),
            bitmap: d.getUint32(REPLAY_STATE_BITMAP_OFFSET, HOST_LITTLE_ENDIAN),
          },
        };
        break;
      }
      case XFRMA_IF_ID: {
        const d = needLength(v, XFRM_IF_ID_LENGTH, 'XFRMA_IF_ID');
        state = { ...state, ifId: d.getUint32(0, HOST_LITTLE_ENDIAN) };
        break;
      }
      default:
        break; // XFRMA_ALG_AUTH (untruncated duplicate), LTIME_VAL, SA_EXTRA_FLAGS, …: not needed
    }
  }
  return state;
}
