#!/usr/bin/env node
/**
 * tsnetd: the netd daemon (Android 9–11 behaviour). Listens on a Unix stream socket, installs
 * netd's start-up rules in the current network namespace, serves commands until SIGTERM or
 * SIGINT, then removes everything it installed and the socket file.
 *
 * Usage: tsnetd [--socket PATH] [--state PATH] [--netutils-group NAME|GID]
 *               [--netutils-config PATH] [--ipsec-socket PATH]
 *               [--ipsec-group NAME|GID] [--verbose]
 * The IPsec service (kernel ESP for unprivileged IpSecManagers) listens beside netd.
 * Exit codes: 0 clean shutdown, 1 start-up failure, 2 usage error, 3 another daemon is
 * already listening on the socket path.
 */
// First: no inspector on SIGUSR1, no NODE_OPTIONS as root (see process_guard.ts).
import './process_guard.ts';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { IpSecServiceServer } from '../ipsec/ipsec_service_daemon.ts';
import { DEFAULT_IPSEC_SOCKET_PATH } from '../ipsec/mod.ts';
import {
  DaemonRunningError,
  DEFAULT_SOCKET_PATH,
  KernelLinuxNet,
  Netd,
  NetdServer,
  NetutilsService,
  resolveGroup,
  SocketPathInUseError,
  StateFile,
} from '../netd/mod.ts';
import { DEFAULT_CONFIG_PATH, NetutilsPolicy } from '../netutils/mod.ts';

const USAGE = `Usage: tsnetd [--socket PATH] [--state PATH] [--netutils-group NAME|GID]
              [--netutils-config PATH] [--ipsec-socket PATH]
              [--ipsec-group NAME|GID] [--verbose]
  --socket PATH  Unix socket to listen on (default ${DEFAULT_SOCKET_PATH})
  --state PATH   crash-recovery state file (default <socket>.state)
  --netutils-group NAME|GID  members may use the socket, held to the wrapper's rules
                 (default: root only); the socket then belongs to this group, mode 0660
  --netutils-config PATH  the wrapper configuration the daemon checks with
                 (default ${DEFAULT_CONFIG_PATH}; the callers' environment is never used)
  --ipsec-socket PATH  IPsec service socket (default ${DEFAULT_IPSEC_SOCKET_PATH}, i.e. beside
                 the netd socket; mode 0666)
  --ipsec-group NAME|GID  only this group may use the IPsec service (socket mode 0660)
  --verbose      log every connection and request on stderr
Exit codes: 0 clean shutdown, 1 start-up failure, 2 usage error, 3 already running`;

function log(line: string): void {
  process.stderr.write(`tsnetd: ${line}\n`);
}

async function main(): Promise<number> {
  let values: {
    socket?: string;
    state?: string;
    'netutils-group'?: string;
    'netutils-config'?: string;
    'ipsec-socket'?: string;
    'ipsec-group'?: string;
    verbose?: boolean;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      options: {
        socket: { type: 'string' },
        state: { type: 'string' },
        'netutils-group': { type: 'string' },
        'netutils-config': { type: 'string' },
        'ipsec-socket': { type: 'string' },
        'ipsec-group': { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error: unknown) {
    process.stderr.write(
      `tsnetd: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`,
    );
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const socketPath = values.socket ?? DEFAULT_SOCKET_PATH;
  // Catch SIGTERM/SIGINT before anything is installed: a signal during start-up must lead to the
  // same clean shutdown once start-up is complete, never to a death that leaves rules behind.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  let resolveReady: (netd: Netd) => void = () => undefined;
  const ready = new Promise<Netd>((resolve) => {
    resolveReady = resolve;
  });

  let netutils: NetutilsService;
  try {
    const group = values['netutils-group'];
    const configPath = values['netutils-config'];
    netutils = new NetutilsService({
      policy: await NetutilsPolicy.load(
        configPath === undefined ? {} : { configPath, explicit: true },
      ),
      ...(group === undefined ? {} : { groupId: resolveGroup(group) }),
    });
  } catch (error: unknown) {
    log(error instanceof Error ? error.message : String(error));
    return 1;
  }

  let server: NetdServer;
  try {
    // Listen first: a live daemon on the path is detected before any kernel state is touched.
    server = await NetdServer.listen({
      socketPath,
      execute: async (argv) => (await ready).execute(argv),
      netutils,
      ...(values.verbose === true ? { log } : {}),
    });
  } catch (error: unknown) {
    log(error instanceof Error ? error.message : String(error));
    if (error instanceof DaemonRunningError) return 3;
    if (error instanceof SocketPathInUseError) return 1;
    return 1;
  }

  let netd: Netd;
  const net = new KernelLinuxNet();
  try {
    // After the socket probe: no other daemon of this path is alive, the file is ours.
    const stateFile = new StateFile(values.state ?? `${socketPath}.state`);
    if (stateFile.recovered !== undefined)
      log(`recovering from an unclean stop (state file ${stateFile.path})`);
    net.checkTools();
    netd = await Netd.start(net, { stateFile, log });
  } catch (error: unknown) {
    log(`Cannot start: ${error instanceof Error ? error.message : String(error)}`);
    net.close();
    await server.close();
    return 1;
  }
  resolveReady(netd);

  let ipsec: IpSecServiceServer;
  try {
    const group = values['ipsec-group'];
    ipsec = await IpSecServiceServer.listen({
      // Beside the netd socket: /run/tsnetd/ipsec by default.
      socketPath: values['ipsec-socket'] ?? join(dirname(socketPath), 'ipsec'),
      ...(group === undefined ? {} : { groupId: resolveGroup(group) }),
      log,
    });
  } catch (error: unknown) {
    log(
      `Cannot start the IPsec service: ${error instanceof Error ? error.message : String(error)}`,
    );
    await server.close();
    for (const problem of await netd.shutdown()) log(`clean-up: ${problem}`);
    return 1;
  }
  log(`IPsec service listening on ${ipsec.socketPath}`);
  // Ready: both services answer. Tests and supervisors wait for this line.
  log(`listening on ${socketPath}`);

  const signal = await stopSignal;
  // A second signal during clean-up must not kill the process half way.
  process.on('SIGTERM', () => undefined);
  process.on('SIGINT', () => undefined);
  log(`${signal} received, shutting down`);
  await ipsec.close();
  await server.close();
  const problems = await netd.shutdown();
  net.close();
  for (const problem of problems) log(`clean-up: ${problem}`);
  log(`stopped (${server.requestCount} requests served)`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    log(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
