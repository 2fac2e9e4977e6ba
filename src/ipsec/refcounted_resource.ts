/**
 * Refcounted resource lifetime of IpSecService (`RefcountedResource`).
 *
 * The count starts at 1 (the user's reference); constructing a parent adds 1 to each child.
 * `userRelease()` (explicit close or owner teardown) is idempotent: it invalidates the id and drops
 * the user reference. At zero the underlying resource is freed (kernel/data-path cleanup and quota
 * give-back), each child loses one reference, and the count goes to -1 (fully released). Releasing
 * below -1 is a programming error.
 */
import { IllegalStateError } from './errors.ts';

/** One node of the resource graph. */
export class RefcountedResource {
  #refCount = 1;
  #userReleased = false;
  readonly #children: readonly RefcountedResource[];
  readonly #free: () => Promise<void>;
  readonly #invalidate: () => void;

  /**
   * @param free frees the underlying resource and returns its quota (called once, at refcount 0)
   * @param invalidate removes the resource id from its owner's lookup table
   * @param children resources this one depends on (each gains a reference)
   */
  constructor(
    free: () => Promise<void>,
    invalidate: () => void,
    children: readonly RefcountedResource[] = [],
  ) {
    this.#free = free;
    this.#invalidate = invalidate;
    this.#children = children;
    for (const child of children) child.#refCount++;
  }

  /** Current count: ≥ 1 alive, 0 being freed, -1 fully released. */
  get refCount(): number {
    return this.#refCount;
  }

  /** Whether the user reference was dropped. */
  get userReleased(): boolean {
    return this.#userReleased;
  }

  /** Drops the user's reference; idempotent. */
  async userRelease(): Promise<void> {
    if (this.#userReleased) return;
    this.#userReleased = true;
    this.#invalidate();
    await this.releaseReference();
  }

  /** Drops one reference; frees at zero, then releases the children. */
  async releaseReference(): Promise<void> {
    this.#refCount--;
    if (this.#refCount > 0) return;
    if (this.#refCount < 0) {
      throw new IllegalStateError('Invalid operation - resource has already been released.');
    }
    try {
      await this.#free();
    } finally {
      for (const child of this.#children) await child.releaseReference();
      this.#refCount--;
    }
  }
}
