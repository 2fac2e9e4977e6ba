/**
 * The IPsec service daemon alone (what `tsnetd --ipsec-socket PATH` starts beside netd), for the
 * guest tests: `node --import tsx ipsec_service_daemon.ts PATH [REFRESH_MS]`. Prints `READY` on stdout once
 * listening, logs on stderr, stops on SIGTERM (releasing everything).
 */
import { DAEMON_REQID_BASE, IpSecServiceServer } from '../../../src/ipsec/ipsec_service_daemon.ts';
import { KernelBackend } from '../../../src/ipsec/mod.ts';

const path = process.argv[2] ?? '';
// Optional: how often SPI reservations are renewed (the chroot cannot read /proc/sys).
const refreshMs = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const server = await IpSecServiceServer.listen({
  socketPath: path,
  createKernelBackend: () =>
    KernelBackend.create({
      reservationReqid: DAEMON_REQID_BASE,
      ...(refreshMs === undefined ? {} : { reservationRefreshMs: refreshMs }),
    }),
  log: (line) => process.stderr.write(`ipsec-service: ${line}\n`),
});
process.stdout.write('READY\n');
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
