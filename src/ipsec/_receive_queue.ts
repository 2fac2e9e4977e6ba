/**
 * Private to src/ipsec: the bounded queue behind the `for await` adapters of
 * `IpSecDatagramSocket` and `UdpEncapsulationSocket`. Like a socket receive buffer it holds at
 * most `maxLength` datagrams for a slow consumer; beyond that the newest datagram is dropped and
 * counted (`drop.queue-full` in `IpSecManager.getStatistics()`), so a flooding peer cannot grow
 * the process's memory without limit.
 */

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
