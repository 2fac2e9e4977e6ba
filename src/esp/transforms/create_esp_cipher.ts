/**
 * Builds the {@link EspCipher} of an SA from validated options (the algorithm table in
 * `../transform.ts` maps names to the implementations here), on the process's crypto provider:
 * OpenSSL contexts through koffi (`native/`) when available, node:crypto otherwise. AES-XCBC and
 * AES-CMAC stay on node:crypto either way: their CBC-MAC core already keeps one long-lived
 * context per SA (`_cbc_mac.ts`), so a native twin would not remove a per-packet key schedule.
 *
 * @module
 */
import type { ResolvedSaOptions } from '../esp_sa_options.ts';
import { AeadCipher, type AeadNodeAlgorithm } from './aead_cipher.ts';
import { createAesCmac } from './aes_cmac.ts';
import { createAesXcbcMac } from './aes_xcbc_mac.ts';
import { EncryptThenMac } from './encrypt_then_mac.ts';
import type { EspCipher } from './esp_cipher.ts';
import {
  CbcEncryption,
  CtrEncryption,
  type EspEncryption,
  NullEncryption,
} from './esp_encryption.ts';
import {
  BlockMacIntegrity,
  type EspIntegrity,
  type HmacHash,
  HmacIntegrity,
} from './esp_integrity.ts';
import { type NativeAeadAlgorithm, NativeAeadCipher } from './native/native_aead.ts';
import {
  NativeCbcEncryption,
  type NativeCipherUse,
  NativeCtrEncryption,
} from './native/native_encryption.ts';
import { NativeHmacIntegrity } from './native/native_hmac.ts';
import { type EspCryptoProvider, espCryptoProvider } from './native/openssl.ts';

const SALT_LENGTH = 4;

const HMAC_HASHES: Readonly<Record<string, HmacHash>> = {
  'hmac(md5)': 'md5',
  'hmac(sha1)': 'sha1',
  'hmac(sha256)': 'sha256',
  'hmac(sha384)': 'sha384',
  'hmac(sha512)': 'sha512',
};

/**
 * Creates the crypto state of one SA. Keys are copied.
 *
 * @param options validated by `resolveSaOptions`
 * @param use the directions the SA uses (an outbound SA only seals, an inbound one only opens);
 *   the native provider keys only those
 * @param provider default: the process's choice; tests pass one to compare both
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { resolveSaOptions } from '../esp_sa_options.ts';
 * import { createEspCipher } from './create_esp_cipher.ts';
 * const options = { spi: 0x1234, aead: { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 } } as const;
 * const cipher = createEspCipher(resolveSaOptions(options));
 * assert.deepEqual([cipher.ivLength, cipher.icvLength], [8, 16]);
 * cipher.dispose();
 * ```
 */
export function createEspCipher(
  options: ResolvedSaOptions,
  use: NativeCipherUse = 'both',
  provider: EspCryptoProvider = espCryptoProvider(),
): EspCipher {
  const { aead, cipher, auth, esn, spi } = options;
  const native = provider === 'openssl-native';
  if (aead !== undefined) {
    const keyLength = aead.key.length - SALT_LENGTH;
    if (native) {
      const algorithm: NativeAeadAlgorithm =
        aead.info.name === 'rfc4106(gcm(aes))'
          ? (`AES-${keyLength * 8}-GCM` as NativeAeadAlgorithm)
          : 'ChaCha20-Poly1305';
      return new NativeAeadCipher({
        algorithm,
        key: aead.key.subarray(0, keyLength),
        salt: aead.key.subarray(keyLength),
        icvLength: aead.icvLength,
        spi,
        esn,
      });
    }
    const algorithm: AeadNodeAlgorithm =
      aead.info.name === 'rfc4106(gcm(aes))'
        ? (`aes-${keyLength * 8}-gcm` as AeadNodeAlgorithm)
        : 'chacha20-poly1305';
    return new AeadCipher({
      algorithm,
      key: aead.key.subarray(0, keyLength),
      salt: aead.key.subarray(keyLength),
      icvLength: aead.icvLength,
      spi,
      esn,
    });
  }
  let encryption: EspEncryption;
  if (cipher === undefined) {
    encryption = new NullEncryption();
  } else if (cipher.info.name === 'cbc(aes)') {
    encryption = native ? new NativeCbcEncryption(cipher.key, use) : new CbcEncryption(cipher.key);
  } else {
    const keyLength = cipher.key.length - SALT_LENGTH;
    const key = cipher.key.subarray(0, keyLength);
    const nonce = cipher.key.subarray(keyLength);
    encryption = native ? new NativeCtrEncryption(key, nonce) : new CtrEncryption(key, nonce);
  }
  let integrity: EspIntegrity | undefined;
  if (auth !== undefined) {
    const name = auth.info.name;
    const hash = HMAC_HASHES[name];
    if (hash !== undefined) {
      try {
        integrity = native
          ? new NativeHmacIntegrity(hash, auth.key, auth.icvLength, esn)
          : new HmacIntegrity(hash, auth.key, auth.icvLength, esn);
      } catch (err: unknown) {
        encryption.dispose();
        throw err;
      }
    } else {
      const mac = name === 'xcbc(aes)' ? createAesXcbcMac(auth.key) : createAesCmac(auth.key);
      integrity = new BlockMacIntegrity(mac, auth.icvLength, esn);
    }
  }
  return new EncryptThenMac(encryption, integrity);
}
