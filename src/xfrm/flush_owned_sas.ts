/**
 * "Flush only tsnetd's own SAs": `XFRM_MSG_FLUSHSA` would remove every SA of the namespace
 * (other IKE daemons' too), so tsnetd dumps the SAD (`GETSA` + `NLM_F_DUMP`), keeps the entries
 * whose `reqid` (and mark, when given) are its own, and deletes each with `DELSA`.
 *
 * Kernel behaviour to know: a refused `ALLOCSPI` leaves a larval state with SPI 0 behind (the
 * kernel creates the acquire state before trying the SPI). `DELSA` looks ESP states up by SPI, so
 * such an entry cannot be deleted; it expires after `net.core.xfrm_acq_expires` (30 s by
 * default). They are reported in {@link FlushOwnedSasResult.expiring}, not treated as errors.
 */

import { formatSpi } from '../esp/format_spi.ts';
import { errnoOf } from '../sys/errno.ts';
import type { NetlinkSocket } from '../sys/netlink/socket.ts';
import { NetlinkError } from './errors.ts';
import {
  decodeSaMessage,
  encodeDeleteSaRequest,
  encodeDumpSaRequest,
  XFRM_MSG_NEWSA,
  type XfrmMark,
  type XfrmSaState,
} from './messages.ts';

/** Which SAs are tsnetd's. */
export interface OwnedSaFilter {
  /** SAs with this reqid (tsnetd's owner id), or the first of a range with `reqidLast`. */
  readonly reqid: number;
  /** When given, SAs with any reqid from `reqid` to this one (inclusive): a range of owners. */
  readonly reqidLast?: number;
  /** When given, only SAs carrying exactly this mark. */
  readonly mark?: XfrmMark;
}

/** What {@link flushOwnedSas} did. */
export interface FlushOwnedSasResult {
  /** SAs deleted (or already gone by the time DELSA arrived). */
  readonly deleted: number;
  /** Larval states with SPI 0 that only expire (see the file header). */
  readonly expiring: number;
}

/** True when `sa` matches `filter`. */
export function isOwnedSa(sa: XfrmSaState, filter: OwnedSaFilter): boolean {
  if (sa.reqid < filter.reqid || sa.reqid > (filter.reqidLast ?? filter.reqid)) return false;
  if (filter.mark === undefined) return true;
  return sa.mark?.value === filter.mark.value && sa.mark.mask === filter.mark.mask;
}

/**
 * Deletes every SA of the socket's namespace that matches `filter`, and nothing else.
 *
 * @throws {NetlinkError} when the dump fails or a DELSA fails with anything but `ESRCH`.
 * @example
 * ```ts
 * using nl = NetlinkSocket.open();
 * const { deleted } = await flushOwnedSas(nl, { reqid: 1000 });
 * ```
 */
export async function flushOwnedSas(
  socket: NetlinkSocket,
  filter: OwnedSaFilter,
): Promise<FlushOwnedSasResult> {
  const entries = await socket.dump(encodeDumpSaRequest(), { operation: 'dump SAs' });
  let deleted = 0;
  let expiring = 0;
  for (const entry of entries) {
    if (entry.type !== XFRM_MSG_NEWSA) continue;
    const sa = decodeSaMessage(entry);
    if (!isOwnedSa(sa, filter)) continue;
    if (sa.spi === 0) {
      expiring++;
      continue;
    }
    const request = encodeDeleteSaRequest({
      destination: sa.destination,
      spi: sa.spi,
      proto: sa.proto,
      ...(sa.mark === undefined ? {} : { mark: sa.mark }),
    });
    try {
      await socket.request(request, {
        operation: `delete SA ${formatSpi(sa.spi)}`,
      });
    } catch (err: unknown) {
      if (!(err instanceof NetlinkError && errnoOf(err) === 'ESRCH')) throw err;
    }
    deleted++;
  }
  return { deleted, expiring };
}
