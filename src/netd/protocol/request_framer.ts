/**
 * Splits a connection's byte stream into NUL-terminated requests (netd's
 * `FrameworkListener::onDataAvailable`). Pure and incremental: feed chunks, get frames.
 *
 * The original reads at most `CMD_BUF_SIZE` bytes per `read()` and rejects a read that does not
 * end in NUL, which depends on how the kernel happened to split the stream. This framer applies
 * the limit to each request instead, which is deterministic: a request of more than
 * `CMD_BUF_SIZE` bytes including its NUL yields one `too-large` frame (→ `500 Command too large
 * for buffer`) and everything up to the next NUL is discarded. Bytes after the last NUL wait for
 * more data; at end of stream they are dropped.
 */
import { CMD_BUF_SIZE } from './tokenize.ts';

/** One framed item: a complete request (latin1 text without its NUL) or an over-long one. */
export type Frame =
  | { readonly kind: 'request'; readonly text: string }
  | { readonly kind: 'too-large' };

/**
 * Incremental NUL framer with the `CMD_BUF_SIZE` limit.
 *
 * @example
 * ```ts
 * const framer = new RequestFramer();
 * framer.push(new TextEncoder().encode('0 ipfwd status\0 1 ip')); // [{ kind: 'request', text: '0 ipfwd status' }]
 * ```
 */
export class RequestFramer {
  #pending: Uint8Array[] = [];
  #pendingLength = 0;
  #skipping = false;

  /** Bytes buffered for an unfinished request (bounded by `CMD_BUF_SIZE`). */
  get bufferedLength(): number {
    return this.#pendingLength;
  }

  /**
   * Consumes a chunk (the framer keeps views into it only until the next NUL is seen).
   *
   * @returns the frames completed by this chunk, in order
   */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    let start = 0;
    while (start <= chunk.length) {
      const nul = chunk.indexOf(0, start);
      const end = nul === -1 ? chunk.length : nul;
      if (!this.#skipping) {
        const piece = chunk.subarray(start, end);
        if (this.#pendingLength + piece.length >= CMD_BUF_SIZE) {
          // The request (plus its NUL) cannot fit in CMD_BUF_SIZE bytes.
          frames.push({ kind: 'too-large' });
          this.#pending = [];
          this.#pendingLength = 0;
          this.#skipping = true;
        } else if (piece.length > 0) {
          this.#pending.push(piece.slice());
          this.#pendingLength += piece.length;
        }
      }
      if (nul === -1) break;
      if (this.#skipping) {
        this.#skipping = false;
      } else {
        frames.push({ kind: 'request', text: this.#takeText() });
      }
      start = nul + 1;
    }
    return frames;
  }

  #takeText(): string {
    const bytes = new Uint8Array(this.#pendingLength);
    let offset = 0;
    for (const piece of this.#pending) {
      bytes.set(piece, offset);
      offset += piece.length;
    }
    this.#pending = [];
    this.#pendingLength = 0;
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  }
}
