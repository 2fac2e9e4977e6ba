/**
 * A serial queue: asynchronous tasks run one at a time, in the order they were submitted, and a
 * failing task does not stop the ones after it (its caller gets the rejection; the queue goes on).
 * The one promise mutex of the project: the netlink socket (one request in flight), the IPsec
 * service core (calls one at a time, like Android's `synchronized` service) and netd (commands in
 * arrival order) all use it.
 */

/**
 * Runs tasks one after another.
 *
 * @example
 * ```ts
 * const queue = new SerialQueue();
 * const a = queue.run(async () => 1);
 * const b = queue.run(() => 2); // starts after a settled
 * await Promise.all([a, b]); // [1, 2]
 * ```
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * Queues `task`; it starts once every task queued before it has settled (fulfilled or rejected).
   *
   * @returns what `task` returns or throws
   */
  run<T>(task: () => T | Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has settled (never rejects). */
  idle(): Promise<void> {
    return this.#tail.then(() => undefined);
  }
}
