/**
 * The ndc side of the netd socket protocol (AOSP's `ndc` client): builds the
 * request (sequence number `0` prepended unless the first word starts with a digit; arguments
 * with spaces quoted), sends it with its NUL in one write, and collects reply lines up to the
 * first final one (code 200..599).
 *
 * Difference from Android's ndc, on purpose: instead of refusing an argument containing `"`,
 * `"` and `\` are escaped (`\"`, `\\`), which the daemon's tokenizer turns back into the
 * original bytes, so every argument arrives unchanged.
 */
import { connect } from 'node:net';
import { type Errno, isErrno, strerror } from './errno.ts';
import { DaemonUnreachableError } from './errors.ts';
import { isFinalReplyLine } from './protocol/response.ts';

/**
 * Encodes one argument for the wire: escapes `\` and `"`, quotes it when it holds a space or
 * is empty.
 *
 * @example
 * ```ts
 * quoteArgument('a b'); // '"a b"'
 * quoteArgument('x"y'); // 'x\\"y'
 * ```
 */
export function quoteArgument(arg: string): string {
  const escaped = arg.replace(/[\\"]/g, (c) => `\\${c}`);
  return arg.includes(' ') || arg === '' ? `"${escaped}"` : escaped;
}

/**
 * The request text for ndc's words (without the NUL).
 *
 * @example
 * ```ts
 * encodeCommand(['network', 'create', 'oem1']); // '0 network create oem1'
 * encodeCommand(['7', 'ipfwd', 'status']);      // '7 ipfwd status'
 * ```
 */
export function encodeCommand(words: readonly string[]): string {
  const [first, ...rest] = words;
  if (first === undefined) throw new RangeError('Cannot encode a command: no words given');
  if (/^[0-9]/.test(first)) return [first, ...rest.map(quoteArgument)].join(' ');
  return ['0', ...words.map(quoteArgument)].join(' ');
}

/** Options of {@link sendCommand}. */
export interface SendCommandOptions {
  /** Called with every reply line as it arrives (the final one included). */
  readonly onLine?: (line: string) => void;
  /** Aborts the exchange (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
}

/** Why the daemon could not be used: connect failure (ndc exit 4) or connection lost. */
export class NdcConnectionError extends DaemonUnreachableError {
  override readonly name = 'NdcConnectionError';
  override readonly code = 'ERR_NETD_CONNECTION';
  /** `connect` when connecting failed, `lost` when the daemon closed before a final reply. */
  readonly stage: 'connect' | 'lost';
  /** The errno of the failure (ECONNRESET when the daemon just closed). */
  readonly errno: Errno | undefined;

  constructor(
    socketPath: string,
    stage: 'connect' | 'lost',
    errno: Errno | undefined,
    options?: ErrorOptions,
  ) {
    super(
      socketPath,
      stage === 'connect'
        ? `connect failed (${errno === undefined ? 'unknown error' : strerror(errno)})`
        : 'connection lost',
      options,
    );
    this.stage = stage;
    this.errno = errno;
  }
}

/**
 * Sends one command and resolves with every reply line up to and including the final one.
 *
 * @throws NdcConnectionError when the daemon is unreachable or the connection is lost
 * @example
 * ```ts
 * await sendCommand('/run/tsnetd/netd', ['ipfwd', 'status']); // ['211 0 Forwarding disabled']
 * ```
 */
export function sendCommand(
  socketPath: string,
  words: readonly string[],
  options: SendCommandOptions = {},
): Promise<string[]> {
  const request = `${encodeCommand(words)}\0`;
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    let buffered = '';
    let connected = false;
    let settled = false;
    const socket = connect(socketPath);
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error === undefined) resolve(lines);
      else reject(error);
    };
    const onAbort = (): void => {
      finish(
        options.signal?.reason instanceof Error ? options.signal.reason : new Error('Aborted'),
      );
    };
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort);
    socket.once('connect', () => {
      connected = true;
      socket.write(request, 'latin1');
    });
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let nul = buffered.indexOf('\0');
      while (nul !== -1) {
        const line = buffered.slice(0, nul);
        buffered = buffered.slice(nul + 1);
        lines.push(line);
        options.onLine?.(line);
        if (isFinalReplyLine(line)) {
          finish(undefined);
          return;
        }
        nul = buffered.indexOf('\0');
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const errno = isErrno(error.code) ? error.code : undefined;
      finish(
        new NdcConnectionError(socketPath, connected ? 'lost' : 'connect', errno, { cause: error }),
      );
    });
    socket.on('close', () => {
      finish(new NdcConnectionError(socketPath, connected ? 'lost' : 'connect', 'ECONNRESET'));
    });
  });
}
