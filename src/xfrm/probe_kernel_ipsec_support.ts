/**
 * Detects whether the running kernel can be the IPsec backend, without crashing on kernels that
 * cannot: a kernel without ESP is detected and reported, never a crash.
 *
 * Steps: open a NETLINK_XFRM socket (fails → `'no-xfrm'`); send `XFRM_MSG_NEWSA` for a scratch
 * transport SA (AES-CBC + HMAC-SHA256, destination 192.0.2.1 from TEST-NET-1, a random SPI, and
 * the mark {@link PROBE_MARK} so it can never match real traffic), then delete it. The kernel
 * checks `CAP_NET_ADMIN` first (`EPERM` → `'no-permission'`), then looks up the algorithms
 * (`ENOSYS` → `'no-esp'`, crypto missing), then the ESP type (`EPROTONOSUPPORT`, "Requested type
 * not found" → `'no-esp'`: no `CONFIG_INET_ESP`). The probe runs in the caller's network
 * namespace; the scratch SA exists for one round trip.
 */
import { randomInt } from 'node:crypto';
import { errnoOf } from '../sys/errno.ts';
import { NetlinkSocket } from '../sys/netlink/socket.ts';
import { FfiUnavailableError, NetlinkError } from './errors.ts';
import { encodeDeleteSaRequest, encodeNewSaRequest } from './messages.ts';

/** Mark of the scratch SA ("tSND"); no packet carries it unless someone sets it on purpose. */
export const PROBE_MARK = Object.freeze({ value: 0x74534e44, mask: 0xffffffff });
const PROBE_DESTINATION = '192.0.2.1';

/** Result of {@link probeKernelIpsecSupport}. */
export type KernelIpsecSupport =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: 'no-esp' | 'no-permission' | 'no-xfrm';
      readonly message: string;
    };

/**
 * Probes the kernel for IPsec support (see the file header for the steps).
 *
 * @returns `{ ok: true }`, or the reason the kernel backend cannot run and a message for humans.
 * @example
 * ```ts
 * const support = await probeKernelIpsecSupport();
 * if (!support.ok) console.error(`kernel backend unavailable (${support.reason}): ${support.message}`);
 * ```
 */
export async function probeKernelIpsecSupport(): Promise<KernelIpsecSupport> {
  let socket: NetlinkSocket;
  try {
    socket = NetlinkSocket.open();
  } catch (err: unknown) {
    if (err instanceof NetlinkError || err instanceof FfiUnavailableError) {
      return { ok: false, reason: 'no-xfrm', message: err.message };
    }
    throw err;
  }
  try {
    const spi = randomInt(0x100, 0xffffffff);
    const sa = { destination: PROBE_DESTINATION, spi, mark: PROBE_MARK };
    try {
      await socket.request(
        encodeNewSaRequest({
          ...sa,
          source: '192.0.2.2',
          cipher: { name: 'cbc(aes)', key: new Uint8Array(16) },
          auth: { name: 'hmac(sha256)', key: new Uint8Array(32), truncationLengthBits: 128 },
        }),
        { operation: 'add a probe ESP SA' },
      );
    } catch (err: unknown) {
      if (!(err instanceof NetlinkError)) throw err;
      const errno = errnoOf(err);
      if (errno === 'EEXIST') return { ok: true };
      if (errno === 'EPERM')
        return {
          ok: false,
          reason: 'no-permission',
          message: `${err.message}: CAP_NET_ADMIN is required`,
        };
      if (errno === 'EPROTONOSUPPORT' || errno === 'ENOSYS') {
        return {
          ok: false,
          reason: 'no-esp',
          message: `${err.message}: the kernel lacks ESP (CONFIG_INET_ESP) or its crypto`,
        };
      }
      return { ok: false, reason: 'no-xfrm', message: err.message };
    }
    await socket.request(encodeDeleteSaRequest(sa), { operation: 'delete the probe ESP SA' });
    return { ok: true };
  } finally {
    socket.close();
  }
}
