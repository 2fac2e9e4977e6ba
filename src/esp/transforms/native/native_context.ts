/**
 * Owners of native OpenSSL contexts: an `EVP_CIPHER_CTX` keyed once, or an `HMAC_CTX`.
 *
 * A context is freed exactly once: by {@link NativeCipherContext.free} (dispose, manager close),
 * or — when its owner was dropped without dispose — by the FinalizationRegistry. OpenSSL's free
 * functions cleanse the key schedule before releasing the memory. After `free()` the address
 * reads as 0 and {@link NativeCipherContext.address} throws, so no call can reach freed memory.
 *
 * @module
 */
import { NativeCryptoError } from '../../errors.ts';
import { nativeContextRegistry, type OpenSsl, withNativeKey } from './openssl.ts';

/**
 * One native context and its release: freed exactly once, by {@link OwnedNativeContext.free} or,
 * when the owner was dropped without it, by the FinalizationRegistry.
 */
abstract class OwnedNativeContext {
  #ctx: number;
  readonly #release: (ctx: number) => void;
  readonly #token = {};

  protected constructor(ctx: number, release: (ctx: number) => void) {
    this.#ctx = ctx;
    this.#release = release;
    nativeContextRegistry.register(this, () => release(ctx), this.#token);
  }

  /** The context's address; throws once freed. */
  address(action: string): number {
    const ctx = this.#ctx;
    if (ctx === 0) throw new NativeCryptoError(action, 'the native context was freed');
    return ctx;
  }

  /** Cleanses and frees the context. Idempotent. */
  free(): void {
    const ctx = this.#ctx;
    if (ctx === 0) return;
    this.#ctx = 0;
    nativeContextRegistry.unregister(this.#token);
    this.#release(ctx);
  }
}

/** An `EVP_CIPHER_CTX` holding one key schedule for one direction (or both, for CTR-based modes). */
export class NativeCipherContext extends OwnedNativeContext {
  /**
   * @param cipherName OpenSSL cipher name, e.g. `AES-128-GCM`
   * @param key copied through the scratch area, which is cleansed at once
   * @param enc 1 = encrypt, 0 = decrypt (block padding is always off: ESP pads itself)
   */
  constructor(ssl: OpenSsl, cipherName: string, key: Uint8Array, enc: 0 | 1) {
    const ctx = ssl.cipherCtxNew();
    if (ctx === 0) throw new NativeCryptoError('create SA', 'EVP_CIPHER_CTX_new failed');
    const ok = withNativeKey(ssl, key, (k) =>
      ssl.cipherInit(ctx, ssl.cipherFetch(cipherName), 0, k, 0, enc),
    );
    if (ok !== 1 || ssl.cipherSetPadding(ctx, 0) !== 1) {
      ssl.cipherCtxFree(ctx);
      throw new NativeCryptoError('create SA', `EVP_CipherInit_ex(${cipherName}) failed`);
    }
    super(ctx, (c) => ssl.cipherCtxFree(c));
  }
}

/** An `HMAC_CTX` keyed once; each packet restarts it from the stored inner/outer states. */
export class NativeHmacContext extends OwnedNativeContext {
  /**
   * @param digestName OpenSSL digest name, e.g. `SHA256`
   * @param key copied through the scratch area, which is cleansed at once
   */
  constructor(ssl: OpenSsl, digestName: string, key: Uint8Array) {
    const ctx = ssl.hmacCtxNew();
    if (ctx === 0) throw new NativeCryptoError('create SA', 'HMAC_CTX_new failed');
    const ok = withNativeKey(ssl, key, (k) =>
      ssl.hmacInit(ctx, k, key.length, ssl.mdFetch(digestName), 0),
    );
    if (ok !== 1) {
      ssl.hmacCtxFree(ctx);
      throw new NativeCryptoError('create SA', `HMAC_Init_ex(${digestName}) failed`);
    }
    super(ctx, (c) => ssl.hmacCtxFree(c));
  }
}
