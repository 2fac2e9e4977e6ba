/**
 * Private to src/ipsec: the bounded queue behind the `for await` adapters of
 * `IpSecDatagramSocket` and `UdpEncapsulationSocket`. Like a socket receive buffer it holds at
 * most `maxLength` datagrams for a slow consumer; beyond that the newest datagram is dropped and
 * counted (`drop.queue-full` in `IpSecManager.getStatistics()`), so a flooding peer cannot grow
 * the process's memory without limit.
 */
import type { EventEmitter } from 'node:events';
import type { RemoteInfo } from './backend.ts';

/** Default capacity of a `for await` receive queue, in datagrams. */
export const DEFAULT_RECEIVE_QUEUE_LENGTH = 1024;

/** Capacity of the receive queues of one socket and where their drops are counted. */
export interface ReceiveQueueOptions {
  /** Datagrams held for a `for await` loop that has not asked for them yet. */
  readonly maxLength: number;
  /** Called once per datagram dropped because the queue was full. */
  readonly onDrop: () => void;
}

/** The defaults, for sockets created without a manager's options. */
export const DEFAULT_RECEIVE_QUEUE_OPTIONS: ReceiveQueueOptions = {
  maxLength: DEFAULT_RECEIVE_QUEUE_LENGTH,
  onDrop: () => undefined,
};

/**
 * A FIFO of at most `maxLength` items: `push` refuses (and reports the drop) when full.
 */
export class ReceiveQueue<T> {
  readonly #items: T[] = [];
  readonly #options: ReceiveQueueOptions;

  constructor(options: ReceiveQueueOptions) {
    this.#options = options;
  }

  /** Number of queued items. */
  get length(): number {
    return this.#items.length;
  }

  /** Appends `item`, or drops it (counted) when the queue is full. @returns whether it was kept */
  push(item: T): boolean {
    if (this.#items.length >= this.#options.maxLength) {
      this.#options.onDrop();
      return false;
    }
    this.#items.push(item);
    return true;
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    return this.#items.shift();
  }
}

/** One received datagram, as the `for await` adapters yield it. */
export interface QueuedMessage {
  readonly message: Buffer;
  readonly rinfo: RemoteInfo;
}

/** Options of the message iterators (`socket.messages({ signal })`). */
export interface MessagesOptions {
  /** Aborting it ends the loop with an `AbortError` (`code: 'ABORT_ERR'`, `cause`: the reason). */
  readonly signal?: AbortSignal | undefined;
}

/** Checks the options of a message iterator at the call (not at the first `next()`). */
export function checkMessagesOptions(options: unknown): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('Cannot iterate messages: options must be an object');
  }
  const { signal } = options as { signal?: unknown };
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError('Cannot iterate messages: signal must be an AbortSignal');
  }
  return signal;
}

/** The error of an aborted wait, shaped like Node's own (`events.on`, `timers/promises`). */
export function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return Object.assign(err, { code: 'ABORT_ERR' });
}

function isAborted(signal: AbortSignal | undefined): signal is AbortSignal {
  return signal?.aborted === true;
}

/**
 * The `for await` loop of a socket-like emitter: queues its `'message'` events (bounded, see
 * {@link ReceiveQueue}) and yields them in order. When the queue is empty it asks
 * `ended(closed)` (`closed`: `'close'` was emitted) whether to stop; `ended` may throw to end the
 * loop with an error. `watch(wake)` lets the caller wake the loop on other events; it returns
 * the function that stops watching. An aborted `signal` ends the loop with {@link abortError}
 * (already aborted: at once, queued datagrams are not yielded). Listeners are removed when the
 * loop ends, breaks or is aborted.
 */
export async function* receiveQueued(
  source: EventEmitter,
  options: ReceiveQueueOptions,
  ended: (closed: boolean) => boolean,
  watch?: (wake: () => void) => () => void,
  signal?: AbortSignal,
): AsyncGenerator<QueuedMessage, void, undefined> {
  if (signal?.aborted === true) throw abortError(signal);
  const queue = new ReceiveQueue<QueuedMessage>(options);
  let wake: (() => void) | undefined;
  let closed = false;
  const onMessage = (message: Buffer, rinfo: RemoteInfo): void => {
    queue.push({ message, rinfo });
    wake?.();
  };
  const onClose = (): void => {
    closed = true;
    wake?.();
  };
  source.on('message', onMessage);
  source.on('close', onClose);
  const unwatch = watch?.(() => wake?.());
  const onAbort = (): void => wake?.();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    while (true) {
      // Read through a call: the check above narrowed `aborted` to false for the compiler.
      if (isAborted(signal)) throw abortError(signal);
      const next = queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (ended(closed)) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    source.off('message', onMessage);
    source.off('close', onClose);
    signal?.removeEventListener('abort', onAbort);
    unwatch?.();
  }
}
