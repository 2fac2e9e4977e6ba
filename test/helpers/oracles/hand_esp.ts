/**
 * A deliberately tiny, independent ESP sealer written straight from RFC 4303 §2 with
 * node:crypto one-shot calls (no code shared with src/esp/). Tests use it to prove the oracle
 * plumbing itself (pcap → tshark, JSON → scapy) before or beside the engine: if an oracle
 * accepts these bytes, the plumbing works, and a later failure with engine bytes is the
 * engine's. 32-bit sequence numbers only; default padding 1, 2, 3, … (RFC 4303 §2.4).
 */
import { createCipheriv, createHmac } from 'node:crypto';

export interface HandSealOptions {
  readonly spi: number;
  readonly seq: number;
  readonly iv: Uint8Array;
  readonly payload: Uint8Array;
  readonly nextHeader: number;
}

/** The 8-byte ESP header: SPI and 32-bit sequence number, big-endian. */
export function header(spi: number, seq: number): Uint8Array {
  const h = new Uint8Array(8);
  const v = new DataView(h.buffer);
  v.setUint32(0, spi);
  v.setUint32(4, seq);
  return h;
}

function plaintextWithTrailer(payload: Uint8Array, nextHeader: number, block: number): Uint8Array {
  const unpadded = payload.length + 2;
  const padLength = (block - (unpadded % block)) % block;
  const out = new Uint8Array(unpadded + padLength);
  out.set(payload);
  for (let i = 0; i < padLength; i++) out[payload.length + i] = i + 1;
  out[out.length - 2] = padLength;
  out[out.length - 1] = nextHeader;
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const HMAC_HASH: Readonly<Record<string, string>> = {
  'hmac(md5)': 'md5',
  'hmac(sha1)': 'sha1',
  'hmac(sha256)': 'sha256',
  'hmac(sha384)': 'sha384',
  'hmac(sha512)': 'sha512',
};

/** AES-CBC (RFC 3602) + HMAC (RFC 2403/2404/4868), encrypt-then-MAC over SPI‖seq‖IV‖ciphertext. */
export function handSealCbcHmac(
  options: HandSealOptions & {
    readonly cipherKey: Uint8Array;
    readonly authName: string;
    readonly authKey: Uint8Array;
    readonly icvLength: number;
  },
): Uint8Array {
  const plain = plaintextWithTrailer(options.payload, options.nextHeader, 16);
  const c = createCipheriv(
    `aes-${options.cipherKey.length * 8}-cbc`,
    options.cipherKey,
    options.iv,
  );
  c.setAutoPadding(false);
  const body = concat([header(options.spi, options.seq), options.iv, c.update(plain), c.final()]);
  const hash = HMAC_HASH[options.authName];
  if (hash === undefined) throw new RangeError(`Unknown HMAC ${options.authName}`);
  const icv = createHmac(hash, options.authKey)
    .update(body)
    .digest()
    .subarray(0, options.icvLength);
  return concat([body, icv]);
}

/** AES-GCM ESP (RFC 4106): nonce salt‖IV, AAD SPI‖seq32, 4-byte alignment, truncated tag. */
export function handSealGcm(
  options: HandSealOptions & { readonly keyAndSalt: Uint8Array; readonly icvLength: number },
): Uint8Array {
  const key = options.keyAndSalt.subarray(0, options.keyAndSalt.length - 4);
  const salt = options.keyAndSalt.subarray(options.keyAndSalt.length - 4);
  const aad = header(options.spi, options.seq);
  const plain = plaintextWithTrailer(options.payload, options.nextHeader, 4);
  const algorithm = `aes-${key.length * 8}-gcm` as 'aes-128-gcm';
  const c = createCipheriv(algorithm, key, concat([salt, options.iv]), { authTagLength: 16 });
  c.setAAD(aad);
  const ct = concat([c.update(plain), c.final()]);
  const tag = c.getAuthTag().subarray(0, options.icvLength);
  return concat([aad, options.iv, ct, tag]);
}
