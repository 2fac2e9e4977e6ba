/**
 * The wrapper's side of the netd socket when it has no `CAP_NET_ADMIN`: instead of running a
 * tool it asks tsnetd to, with the `netutils` verb of the netd protocol (NUL-terminated text
 * requests, replies `<code> <seq> <text>`):
 *
 * ```text
 * client → 0 netutils arg <a1> … <aN>     (N ≤ 23, ≤ 1024 bytes per request, quoted like ndc; no reply)
 * client → 0 netutils run <tool>          (ip | iptables | ip6tables | tc)
 * daemon ← 120 0 <base64>                 (the tool's stdout, in order)
 * daemon ← 121 0 <base64>                 (the tool's stderr, in order)
 * client → 0 netutils signal TERM|INT|HUP (while it runs: passed to the tool)
 * daemon ← 220 0 <status>                 (final: exit status, or 128 + signal)
 * daemon ← 502 0 Permission denied: …     (final: not root and not in the netutils group)
 * daemon ← 520 0 Unexpected command: …    (final: refused by a rule or the hardened check)
 * daemon ← 521 0 Cannot run …             (final: tool missing, untrusted, bad request)
 * ```
 *
 * `ndc` commands go to the daemon as plain netd requests (it is the daemon itself); the same
 * 502/520 answers refuse them. Closing the connection (the wrapper died) makes the daemon kill
 * the tool. The daemon decides with its own configuration; the wrapper sends only argv.
 */
import { connect, type Socket } from 'node:net';

/** Reply codes of the `netutils` verb. */
export const NETUTILS_REPLY = {
  stdout: 120,
  stderr: 121,
  exited: 220,
  permissionDenied: 502,
  refused: 520,
  cannotRun: 521,
} as const;

/** Socket path when `TSNETD_SOCKET` is not set. */
export const DEFAULT_DAEMON_SOCKET = '/run/tsnetd/netd';
/** Most arguments per `netutils arg` request (netd's 26-token limit minus seq, verb, sub-verb). */
export const ARGS_PER_REQUEST = 23;
/** Longest single argument the protocol carries (netd's token limit, bytes). */
export const MAX_REMOTE_ARGUMENT_BYTES = 1023;
/** Signals the wrapper forwards to the remote tool. */
export const REMOTE_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * Quotes one argument for a netd request (ndc's encoding): `\` and `"` escaped, quoted when
 * it holds a space or is empty.
 *
 * @example
 * ```ts
 * quoteWord('a"b'); // 'a\\"b'
 * ```
 */
export function quoteWord(word: string): string {
  const bytes = Buffer.from(word, 'utf8').toString('latin1');
  const escaped = bytes.replace(/[\\"]/g, (c) => `\\${c}`);
  return word.includes(' ') || word === '' ? `"${escaped}"` : escaped;
}

/** Largest request the daemon takes, NUL included (netd's `CMD_BUF_SIZE`). */
const MAX_REQUEST_BYTES = 1024;
const ARG_PREFIX = '0 netutils arg';

/**
 * The request frames (without NULs) that ask the daemon to run `tool` with `args`: the
 * arguments packed into `netutils arg` requests of at most 23 arguments and 1024 bytes each.
 *
 * @returns the frames, or `undefined` when one argument alone does not fit in a request.
 * @example
 * ```ts
 * remoteRunRequests('ip', ['xfrm', 'state']); // ['0 netutils arg xfrm state', '0 netutils run ip']
 * ```
 */
export function remoteRunRequests(tool: string, args: readonly string[]): string[] | undefined {
  const out: string[] = [];
  let words: string[] = [];
  let size = ARG_PREFIX.length + 1; // + NUL
  for (const arg of args) {
    const word = quoteWord(arg); // latin1 text: one character per byte
    if (ARG_PREFIX.length + 1 + word.length + 1 > MAX_REQUEST_BYTES) return undefined;
    if (words.length === ARGS_PER_REQUEST || size + 1 + word.length > MAX_REQUEST_BYTES) {
      out.push([ARG_PREFIX, ...words].join(' '));
      words = [];
      size = ARG_PREFIX.length + 1;
    }
    words.push(word);
    size += 1 + word.length;
  }
  if (words.length > 0) out.push([ARG_PREFIX, ...words].join(' '));
  out.push(`0 netutils run ${tool}`);
  return out;
}

/** What happened to a remote request. */
export type RemoteOutcome =
  | { readonly kind: 'status'; readonly status: number }
  /** The daemon refused or failed: the line to print (after the wrapper's prefix). */
  | { readonly kind: 'refused'; readonly code: number; readonly message: string }
  | { readonly kind: 'unreachable'; readonly errno: string }
  | { readonly kind: 'lost' };

/** Options of {@link runRemote}. */
export interface RemoteOptions {
  readonly socketPath: string;
  /** Request frames (without NULs), from {@link remoteRunRequests} or an ndc request. */
  readonly requests: readonly string[];
  /** `ndc` mode: every reply line goes to `onLine`, the first final reply ends it. */
  readonly onLine?: (line: string) => void;
  /** Receives the tool's stdout/stderr bytes; returns false to pause until `resume`. */
  readonly onOutput?: (stream: 1 | 2, data: Buffer, resume: () => void) => boolean;
  /** Forward these signals as `netutils signal` while waiting. */
  readonly forwardSignals?: boolean;
}

function finalCode(line: string): number | undefined {
  const m = /^(\d{3}) /.exec(line);
  const code = m?.[1] === undefined ? undefined : Number(m[1]);
  return code !== undefined && code >= 200 && code < 600 ? code : undefined;
}

/**
 * Sends the requests and follows the replies until a final one.
 *
 * @example
 * ```ts
 * const outcome = await runRemote({ socketPath: '/run/tsnetd/netd', requests: remoteRunRequests('ip', ['xfrm', 'state']) });
 * ```
 */
export function runRemote(options: RemoteOptions): Promise<RemoteOutcome> {
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    let buffered: Buffer = Buffer.alloc(0);
    const socket: Socket = connect(options.socketPath);
    const forward = (signal: NodeJS.Signals): void => {
      if (!socket.destroyed) socket.write(`0 netutils signal ${signal.slice(3)}\0`, 'latin1');
    };
    const finish = (outcome: RemoteOutcome): void => {
      if (settled) return;
      settled = true;
      for (const s of REMOTE_SIGNALS) process.off(s, forward);
      socket.destroy();
      resolve(outcome);
    };
    socket.once('connect', () => {
      connected = true;
      if (options.forwardSignals === true) for (const s of REMOTE_SIGNALS) process.on(s, forward);
      socket.write(options.requests.map((r) => `${r}\0`).join(''), 'latin1');
    });
    const resume = (): void => {
      if (!settled) socket.resume();
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let nul = buffered.indexOf(0);
      while (nul !== -1 && !settled) {
        const line = buffered.subarray(0, nul).toString('latin1');
        buffered = buffered.subarray(nul + 1);
        nul = buffered.indexOf(0);
        const m = /^(\d{3}) \S+ ?(.*)$/s.exec(line);
        const code = m?.[1] === undefined ? -1 : Number(m[1]);
        const text = m?.[2] ?? '';
        if (code === NETUTILS_REPLY.stdout || code === NETUTILS_REPLY.stderr) {
          const data = Buffer.from(text, 'base64');
          const more = options.onOutput?.(code === NETUTILS_REPLY.stdout ? 1 : 2, data, resume);
          if (more === false) socket.pause();
          continue;
        }
        // 502/520/521, and any other error reply while building a run (a request the daemon
        // could not parse): the command is not run as sent, so nothing is run at all.
        if (
          code === NETUTILS_REPLY.permissionDenied ||
          code === NETUTILS_REPLY.refused ||
          code === NETUTILS_REPLY.cannotRun ||
          (code >= 500 && code < 600 && options.onLine === undefined)
        ) {
          finish({ kind: 'refused', code, message: Buffer.from(text, 'latin1').toString('utf8') });
          return;
        }
        if (code === NETUTILS_REPLY.exited && options.onLine === undefined) {
          finish({ kind: 'status', status: Number(text) & 0xff });
          return;
        }
        if (options.onLine !== undefined) {
          options.onLine(line);
          if (finalCode(line) !== undefined) {
            finish({ kind: 'status', status: 0 });
            return;
          }
        }
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      finish(connected ? { kind: 'lost' } : { kind: 'unreachable', errno: error.code ?? 'EIO' });
    });
    socket.on('close', () =>
      finish(connected ? { kind: 'lost' } : { kind: 'unreachable', errno: 'ECONNRESET' }),
    );
  });
}
