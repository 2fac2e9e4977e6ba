/**
 * OpenSSL's EVP interface reached through koffi: the native crypto provider of the ESP engine.
 *
 * Why here, in the pure ESP layer: a foreign-function call into the crypto library the process
 * already contains (Node's own OpenSSL, found with `dlopen(NULL)`) is computation, not I/O — no
 * descriptor, no file, no network — exactly what node:crypto does behind its own bindings. The
 * ESP layer stays free of other project layers: it loads koffi itself, lazily, on the first SA
 * created (never at import), and falls back to node:crypto when koffi or a symbol is missing.
 *
 * Speed comes from three choices (docs/esp.md "Native crypto"):
 * - one `EVP_CIPHER_CTX` (or `HMAC_CTX`) per SA and direction: the key schedule runs once, a
 *   packet only sets its IV;
 * - every pointer argument is an integer address into one process-wide native scratch area
 *   (allocated once with `malloc`, seen from JavaScript through `koffi.view`): no buffer
 *   marshalling per call, a packet is copied in and out with `TypedArray#set`;
 * - the fewest calls per packet (AES-GCM or ChaCha20-Poly1305: five; CBC, CTR: two; HMAC: three).
 *
 * Memory safety: the scratch area has a fixed layout and every length is checked against it in
 * TypeScript before a native call ({@link checkDataLength}); keys pass through the scratch area
 * and are wiped from it (`OPENSSL_cleanse`) at once; contexts are freed with OpenSSL's own free
 * functions, which cleanse the key schedule, on dispose — and, should an SA be dropped without
 * dispose, by a FinalizationRegistry. A freed context's address is set to 0 and checked before
 * every call, so a late call throws instead of touching freed memory. JavaScript is single
 * threaded and every call here is synchronous, so one scratch area serves every SA.
 *
 * Provider choice: once per process, on first use. `TSNETD_ESP_CRYPTO=node-crypto` forces the
 * node:crypto path (CI runs the ESP suites both ways); otherwise the native path is used when
 * koffi loads, every symbol resolves and a known-answer self-test agrees with node:crypto.
 *
 * @module
 */
import { createCipheriv } from 'node:crypto';
import { createRequire } from 'node:module';
import { NativeCryptoError } from '../../errors.ts';

/** Which implementation seals and opens ESP packets in this process. */
export type EspCryptoProvider = 'openssl-native' | 'node-crypto';

/** The environment variable that forces node:crypto (`TSNETD_ESP_CRYPTO=node-crypto`). */
export const ESP_CRYPTO_ENV = 'TSNETD_ESP_CRYPTO';

/** Bytes of the scratch area's parameter block (nonce, AAD, tag, digest, output length). */
const PARAMS_LENGTH = 256;
/** Offsets inside the parameter block. */
export const OUTL_OFFSET = 0;
export const NONCE_OFFSET = 16;
export const AAD_OFFSET = 32;
export const TAG_OFFSET = 48;
export const DIGEST_OFFSET = 64;
export const KEY_OFFSET = 128;
/** Largest key copied through the scratch area (HMAC-SHA-512 keys are 64 bytes). */
export const MAX_KEY_LENGTH = 128;
/** Start of the data region. */
export const DATA_OFFSET = PARAMS_LENGTH;
/** Room for a whole ESP packet (at most 65535 bytes) plus a 4-byte ESN trailer, rounded up. */
export const MAX_DATA_LENGTH = 65536 + 64;
const SCRATCH_LENGTH = DATA_OFFSET + MAX_DATA_LENGTH;

/** `EVP_CIPHER_CTX_ctrl` commands (OpenSSL `evp.h`). */
export const EVP_CTRL_AEAD_GET_TAG = 0x10;
export const EVP_CTRL_AEAD_SET_TAG = 0x11;

type Koffi = typeof import('koffi');

/** The bound OpenSSL and libc functions; pointers are integer addresses. */
export interface OpenSsl {
  /** Address of the scratch area. */
  readonly base: number;
  /** The scratch area. */
  readonly scratch: Uint8Array;
  readonly cipherFetch: (name: string) => number;
  readonly mdFetch: (name: string) => number;
  readonly cipherCtxNew: () => number;
  readonly cipherCtxFree: (ctx: number) => void;
  readonly cipherInit: (
    ctx: number,
    cipher: number,
    engine: number,
    key: number,
    iv: number,
    enc: number,
  ) => number;
  readonly cipherUpdate: (
    ctx: number,
    out: number,
    outl: number,
    input: number,
    inl: number,
  ) => number;
  readonly cipherFinal: (ctx: number, out: number, outl: number) => number;
  readonly cipherCtrl: (ctx: number, type: number, arg: number, ptr: number) => number;
  readonly cipherSetPadding: (ctx: number, pad: number) => number;
  readonly hmacCtxNew: () => number;
  readonly hmacCtxFree: (ctx: number) => void;
  readonly hmacInit: (
    ctx: number,
    key: number,
    keyLength: number,
    md: number,
    engine: number,
  ) => number;
  readonly hmacUpdate: (ctx: number, data: number, length: number) => number;
  readonly hmacFinal: (ctx: number, md: number, length: number) => number;
  readonly cleanse: (ptr: number, length: number) => void;
  /** `malloc` (for memory never freed: the scratch area, packet memory). */
  readonly malloc: (length: number) => number;
  /** An `ArrayBuffer` over native memory. */
  readonly view: (address: number, length: number) => ArrayBuffer;
}

let provider: EspCryptoProvider | undefined;
let openssl: OpenSsl | undefined;
let unavailableReason: string | undefined;

/**
 * The crypto provider of this process, chosen once on first call (see the module header).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { espCryptoProvider } from 'tsnetd/esp';
 * assert.ok(['openssl-native', 'node-crypto'].includes(espCryptoProvider()));
 * ```
 */
export function espCryptoProvider(): EspCryptoProvider {
  if (provider !== undefined) return provider;
  if (process.env[ESP_CRYPTO_ENV] === 'node-crypto') {
    unavailableReason = `${ESP_CRYPTO_ENV}=node-crypto`;
    provider = 'node-crypto';
    return provider;
  }
  try {
    openssl = bind();
    selfTest(openssl);
    provider = 'openssl-native';
  } catch (err: unknown) {
    openssl = undefined;
    unavailableReason = err instanceof Error ? err.message : String(err);
    provider = 'node-crypto';
  }
  return provider;
}

/**
 * Why the native provider is not used (`undefined` when it is, or before the choice).
 *
 * @example
 * ```ts
 * import { espCryptoProvider, espNativeCryptoUnavailableReason } from 'tsnetd/esp';
 * if (espCryptoProvider() === 'node-crypto') console.log(espNativeCryptoUnavailableReason());
 * ```
 */
export function espNativeCryptoUnavailableReason(): string | undefined {
  espCryptoProvider();
  return unavailableReason;
}

/** Internal: the bindings; only valid when {@link espCryptoProvider} is `'openssl-native'`. */
export function nativeOpenSsl(): OpenSsl {
  if (espCryptoProvider() !== 'openssl-native' || openssl === undefined) {
    throw new Error('Cannot use native crypto: the provider is node-crypto');
  }
  return openssl;
}

/**
 * Throws unless `length` bytes fit the scratch data region (checked before every native call
 * that reads or writes packet bytes).
 */
export function checkDataLength(length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > MAX_DATA_LENGTH) {
    throw new RangeError(
      `Cannot process ESP data: ${String(length)} bytes do not fit 0..${MAX_DATA_LENGTH}`,
    );
  }
}

/**
 * Copies `key` into the scratch key slot, runs `use(address)`, then cleanses the slot —
 * also when `use` throws.
 */
export function withNativeKey<T>(ssl: OpenSsl, key: Uint8Array, use: (address: number) => T): T {
  if (key.length > MAX_KEY_LENGTH) {
    throw new RangeError(`Cannot load key: ${key.length} bytes, at most ${MAX_KEY_LENGTH}`);
  }
  ssl.scratch.set(key, KEY_OFFSET);
  try {
    return use(ssl.base + KEY_OFFSET);
  } finally {
    ssl.cleanse(ssl.base + KEY_OFFSET, MAX_KEY_LENGTH);
  }
}

/** Base addresses of the native packet memory handed out, by the `ArrayBuffer` that views it. */
const packetMemoryBases = new WeakMap<ArrayBufferLike, number>();

/**
 * Allocates `length` bytes of native packet memory (never freed: callers keep one region for the
 * life of the process, e.g. a transmit ring) and returns a zeroed view of it. A packet laid out
 * in this memory is sealed in place by the native AEAD ciphers (no copy into the scratch area),
 * and its address can be handed to a system call ({@link nativeAddressOf}).
 *
 * @returns the view, or `undefined` when the provider is not `'openssl-native'`
 */
export function allocateNativePacketMemory(length: number): Uint8Array | undefined {
  if (!Number.isInteger(length) || length <= 0 || length > 64 * 1024 * 1024) {
    throw new RangeError(`Cannot allocate native packet memory: ${String(length)} bytes`);
  }
  if (espCryptoProvider() !== 'openssl-native' || openssl === undefined) return undefined;
  const base = openssl.malloc(length);
  if (base === 0) throw new NativeCryptoError('allocate packet memory', 'malloc failed');
  const view = new Uint8Array(openssl.view(base, length));
  view.fill(0);
  packetMemoryBases.set(view.buffer, base);
  return view;
}

/**
 * The native address of `view`'s first byte when it lies in memory from
 * {@link allocateNativePacketMemory}, else `undefined`. The address is derived from the view's own
 * buffer and offset (never taken from a caller), and a typed array cannot reach past its buffer,
 * so `[address, address + view.length)` is always inside the allocation.
 */
export function nativeAddressOf(view: Uint8Array): number | undefined {
  const base = packetMemoryBases.get(view.buffer);
  return base === undefined ? undefined : base + view.byteOffset;
}

/** Frees native contexts whose owner was collected without `dispose()`. */
export const nativeContextRegistry = new FinalizationRegistry<() => void>((free) => free());

function bind(): OpenSsl {
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    throw new Error(`native crypto is not offered on ${process.platform}`);
  }
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (err: unknown) {
    throw new Error('koffi cannot load', { cause: err });
  }
  // The process itself: Node's statically linked OpenSSL and libc.
  const lib = koffi.load(null);
  const p = 'intptr_t';
  const fn = <T>(name: string, result: string, args: string[]): T =>
    lib.func(name, result, args) as unknown as T;
  const malloc = fn<(n: number) => number>('malloc', p, ['size_t']);
  const cipherFetchRaw = fn<(ctx: number, name: string, props: number) => number>(
    'EVP_CIPHER_fetch',
    p,
    [p, 'const char *', p],
  );
  const mdFetchRaw = fn<(ctx: number, name: string, props: number) => number>('EVP_MD_fetch', p, [
    p,
    'const char *',
    p,
  ]);
  const base = malloc(SCRATCH_LENGTH);
  if (typeof base !== 'number' || base === 0) throw new Error('cannot allocate native scratch');
  const scratch = new Uint8Array(koffi.view(base, SCRATCH_LENGTH));
  scratch.fill(0);
  const fetched = new Map<string, number>();
  const fetchOnce = (
    kind: string,
    name: string,
    raw: (c: number, n: string, q: number) => number,
  ) => {
    const key = `${kind}:${name}`;
    const known = fetched.get(key);
    if (known !== undefined) return known;
    const handle = raw(0, name, 0);
    if (handle === 0) throw new Error(`OpenSSL has no ${name}`);
    fetched.set(key, handle);
    return handle;
  };
  const ssl: OpenSsl = {
    base,
    scratch,
    cipherFetch: (name) => fetchOnce('cipher', name, cipherFetchRaw),
    mdFetch: (name) => fetchOnce('md', name, mdFetchRaw),
    cipherCtxNew: fn('EVP_CIPHER_CTX_new', p, []),
    cipherCtxFree: fn('EVP_CIPHER_CTX_free', 'void', [p]),
    cipherInit: fn('EVP_CipherInit_ex', 'int', [p, p, p, p, p, 'int']),
    cipherUpdate: fn('EVP_CipherUpdate', 'int', [p, p, p, p, 'int']),
    cipherFinal: fn('EVP_CipherFinal_ex', 'int', [p, p, p]),
    cipherCtrl: fn('EVP_CIPHER_CTX_ctrl', 'int', [p, 'int', 'int', p]),
    cipherSetPadding: fn('EVP_CIPHER_CTX_set_padding', 'int', [p, 'int']),
    hmacCtxNew: fn('HMAC_CTX_new', p, []),
    hmacCtxFree: fn('HMAC_CTX_free', 'void', [p]),
    hmacInit: fn('HMAC_Init_ex', 'int', [p, p, 'int', p, p]),
    hmacUpdate: fn('HMAC_Update', 'int', [p, p, 'size_t']),
    hmacFinal: fn('HMAC_Final', 'int', [p, p, p]),
    cleanse: fn('OPENSSL_cleanse', 'void', [p, 'size_t']),
    malloc,
    view: (address, length) => koffi.view(address, length),
  };
  for (const name of [
    'AES-128-GCM',
    'AES-192-GCM',
    'AES-256-GCM',
    'ChaCha20-Poly1305',
    'AES-128-CBC',
    'AES-192-CBC',
    'AES-256-CBC',
    'AES-128-CTR',
    'AES-192-CTR',
    'AES-256-CTR',
  ]) {
    ssl.cipherFetch(name);
  }
  for (const name of ['MD5', 'SHA1', 'SHA256', 'SHA384', 'SHA512']) ssl.mdFetch(name);
  return ssl;
}

/**
 * A known-answer test: AES-128-GCM through the bindings must agree with node:crypto, or the
 * symbols found are not the OpenSSL this code was written for.
 */
function selfTest(ssl: OpenSsl): void {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i);
  const data = Uint8Array.from({ length: 40 }, (_, i) => i * 3);
  const expected = createCipheriv('aes-128-gcm', key, nonce);
  const ciphertext = expected.update(data);
  expected.final();
  const tag = expected.getAuthTag();
  const ctx = ssl.cipherCtxNew();
  if (ctx === 0) throw new Error('EVP_CIPHER_CTX_new failed');
  try {
    const b = ssl.base;
    ssl.scratch.set(nonce, NONCE_OFFSET);
    ssl.scratch.set(data, DATA_OFFSET);
    let ok = withNativeKey(ssl, key, (k) =>
      ssl.cipherInit(ctx, ssl.cipherFetch('AES-128-GCM'), 0, k, b + NONCE_OFFSET, 1),
    );
    ok &= ssl.cipherUpdate(ctx, b + DATA_OFFSET, b + OUTL_OFFSET, b + DATA_OFFSET, data.length);
    ok &= ssl.cipherFinal(ctx, b + DATA_OFFSET + data.length, b + OUTL_OFFSET);
    ok &= ssl.cipherCtrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, b + TAG_OFFSET);
    const same =
      ok === 1 &&
      Buffer.compare(ssl.scratch.subarray(DATA_OFFSET, DATA_OFFSET + data.length), ciphertext) ===
        0 &&
      Buffer.compare(ssl.scratch.subarray(TAG_OFFSET, TAG_OFFSET + 16), tag) === 0;
    if (!same) throw new Error('OpenSSL self-test disagrees with node:crypto');
  } finally {
    ssl.cipherCtxFree(ctx);
    ssl.scratch.fill(0, 0, DATA_OFFSET + 64);
  }
}
