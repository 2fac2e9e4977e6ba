/**
 * An independent, deliberately naive ESP packet builder for tests (RFC 4303 §2, RFC 4106,
 * RFC 7634, RFC 3602, RFC 3686): one-shot node:crypto calls, everything spelled out, no state.
 * Used to cross-check the engine and to build packets the engine refuses to build (bad padding,
 * wrong ESN high half, SPI 0).
 *
 * @module
 */
import { createCipheriv, createHmac } from 'node:crypto';

export interface ReferencePacket {
  /** 'gcm' | 'chacha' | 'cbc' | 'ctr' | 'null' */
  readonly cipher: 'gcm' | 'chacha' | 'cbc' | 'ctr' | 'null';
  /** Full key material (AEAD/CTR: key ‖ salt). */
  readonly cipherKey: Uint8Array;
  readonly hmac?: { readonly hash: string; readonly key: Uint8Array; readonly icvLength: number };
  readonly icvLength?: number; // AEAD tag length
  readonly spi: number;
  readonly seqHigh: number;
  readonly seqLow: number;
  readonly esn: boolean;
  readonly iv: Uint8Array;
  /** payload ‖ padding ‖ pad length ‖ next header, exactly as it is to be encrypted. */
  readonly plaintext: Uint8Array;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** Builds `SPI ‖ Seq ‖ IV ‖ ciphertext ‖ ICV`. */
export function referenceSeal(p: ReferencePacket): Uint8Array {
  const header = Buffer.concat([u32(p.spi), u32(p.seqLow)]);
  if (p.cipher === 'gcm' || p.cipher === 'chacha') {
    const key = p.cipherKey.subarray(0, p.cipherKey.length - 4);
    const nonce = Buffer.concat([p.cipherKey.subarray(p.cipherKey.length - 4), p.iv]);
    const aad = p.esn ? Buffer.concat([u32(p.spi), u32(p.seqHigh), u32(p.seqLow)]) : header;
    const tagLength = p.icvLength ?? 16;
    const name = p.cipher === 'chacha' ? 'chacha20-poly1305' : `aes-${key.length * 8}-gcm`;
    const c = createCipheriv(name as 'aes-128-gcm', key, nonce, { authTagLength: tagLength });
    c.setAAD(aad);
    const ct = Buffer.concat([c.update(p.plaintext), c.final()]);
    return new Uint8Array(Buffer.concat([header, p.iv, ct, c.getAuthTag()]));
  }
  let ct: Buffer;
  if (p.cipher === 'cbc') {
    const c = createCipheriv(`aes-${p.cipherKey.length * 8}-cbc`, p.cipherKey, p.iv);
    c.setAutoPadding(false);
    ct = Buffer.concat([c.update(p.plaintext), c.final()]);
  } else if (p.cipher === 'ctr') {
    const key = p.cipherKey.subarray(0, p.cipherKey.length - 4);
    const block = Buffer.concat([p.cipherKey.subarray(p.cipherKey.length - 4), p.iv, u32(1)]);
    const c = createCipheriv(`aes-${key.length * 8}-ctr`, key, block);
    ct = Buffer.concat([c.update(p.plaintext), c.final()]);
  } else {
    ct = Buffer.from(p.plaintext);
  }
  const body = Buffer.concat([header, p.iv, ct]);
  if (p.hmac === undefined) return new Uint8Array(body);
  const h = createHmac(p.hmac.hash, p.hmac.key);
  h.update(body);
  if (p.esn) h.update(u32(p.seqHigh));
  const icv = h.digest().subarray(0, p.hmac.icvLength);
  return new Uint8Array(Buffer.concat([body, icv]));
}

/** payload ‖ default padding (minimal, aligned to max(block, 4)) ‖ pad length ‖ next header. */
export function referencePlaintext(
  payload: Uint8Array,
  nextHeader: number,
  blockSize: number,
): Uint8Array {
  const align = Math.max(blockSize, 4);
  const pad = (align - ((payload.length + 2) % align)) % align;
  const out = new Uint8Array(payload.length + pad + 2);
  out.set(payload);
  for (let i = 0; i < pad; i++) out[payload.length + i] = i + 1;
  out[out.length - 2] = pad;
  out[out.length - 1] = nextHeader;
  return out;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}
