/**
 * Formats an ESP SA as a Wireshark / tshark `esp_sa` UAT record, so captures of our traffic can
 * be decrypted and ICV-checked by Wireshark (the oracle of the tshark tests, and a debugging aid).
 *
 * **The output contains the SA keys in clear hex.** That is its purpose; never log it, and keep
 * any `esp_sa` file it is written to private (mode 0600, removed after use).
 *
 * Record shape (Wireshark 4.0 `epan/dissectors/packet-ipsec.c`, `esp_uat_flds`): exactly eight
 * quoted, comma-separated fields
 * `"Protocol","Src IP","Dest IP","SPI","Encryption","Encryption Key","Authentication","Authentication Key"`.
 * Enumerated fields are written as the value *names* Wireshark shows (numbers are refused by
 * tshark 4.0.17: `esp_sa:1: invalid value: 3`); keys are `0x`-prefixed hex (AEAD and AES-CTR keys
 * include the 4-byte salt/nonce, as in RFC 4106 §8.1 / RFC 3686 §5.1); SPI is `0x%08x`.
 * The same line is used in the `esp_sa` file of a Wireshark profile and after `uat:esp_sa:` in a
 * tshark `-o` option. Verified against tshark 4.0.17 (Debian 12) by
 * `test/datapath/wireshark_esp_sa.test.ts` and `test/esp/oracle_tshark.test.ts`.
 *
 * Wireshark 4.0 has no ChaCha20-Poly1305, AES-XCBC or AES-CMAC for ESP and no ESN (see
 * `docs/oracles.md`).
 *
 * @module
 */
import { formatSpi } from '../esp/mod.ts';

/** Address family of the SA as Wireshark names it. */
export type WiresharkEspProtocol = 'IPv4' | 'IPv6';

/** The algorithms and keys of the SA, with the engine's (Android / Linux crypto) names. */
export interface WiresharkEspSaOptions {
  /** Outer address family. */
  readonly protocol: WiresharkEspProtocol;
  /** Source address as text, or `'*'` (default) for any. */
  readonly srcAddress?: string;
  /** Destination address as text, or `'*'` (default) for any. */
  readonly dstAddress?: string;
  /** SPI, 1..0xFFFFFFFF. */
  readonly spi: number;
  /** AEAD (excludes `cipher` and `auth`); `key` is key‖salt(4). */
  readonly aead?: {
    readonly name: string;
    readonly key: Uint8Array;
    readonly icvLengthBits: number;
  };
  /** Cipher; `key` of `rfc3686(ctr(aes))` is key‖nonce(4). Absent = NULL encryption. */
  readonly cipher?: { readonly name: string; readonly key: Uint8Array };
  /** Integrity algorithm. Absent = NULL authentication (only valid with an AEAD). */
  readonly auth?: {
    readonly name: string;
    readonly key: Uint8Array;
    readonly truncationLengthBits: number;
  };
}

/** A formatted `esp_sa` record. Both strings contain the keys in clear. */
export interface WiresharkEspSaRecord {
  /** The argument of a tshark `-o` option: `uat:esp_sa:"IPv4",…` (pass as one argv element). */
  readonly uatOption: string;
  /** One line (without newline) of the `esp_sa` file in a Wireshark profile directory. */
  readonly fileLine: string;
  /**
   * False when Wireshark 4.0 has no matching integrity algorithm and the record uses
   * `ANY n bit authentication [no checking]`: packets decrypt, but the ICV is not verified.
   */
  readonly authenticationChecked: boolean;
}

/**
 * Thrown when Wireshark 4.0 cannot describe the SA at all (e.g. ChaCha20-Poly1305).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { formatEspSaWithKeysForWireshark, WiresharkUnsupportedAlgorithmError } from 'tsnetd/datapath';
 * const chachaAead = { name: 'rfc7539esp(chacha20,poly1305)', key: randomBytes(36), icvLengthBits: 128 };
 * assert.throws(
 *   () => formatEspSaWithKeysForWireshark({ protocol: 'IPv4', spi: 1, aead: chachaAead }),
 *   (e) => e instanceof WiresharkUnsupportedAlgorithmError && e.algorithm === chachaAead.name,
 * );
 * ```
 */
export class WiresharkUnsupportedAlgorithmError extends Error {
  override readonly name = 'WiresharkUnsupportedAlgorithmError';
  readonly code = 'ERR_DATAPATH_WIRESHARK_UNSUPPORTED_ALGORITHM';
  /** The engine name of the algorithm Wireshark does not support. */
  readonly algorithm: string;
  constructor(algorithm: string, reason: string) {
    super(`Cannot format SA for Wireshark: ${reason}`);
    this.algorithm = algorithm;
  }
}

// Wireshark 4.0.17 value names (libwireshark's strings).
const ENCRYPTION_NULL = 'NULL';
const ENCRYPTION_BY_CIPHER: ReadonlyMap<string, string> = new Map([
  ['cbc(aes)', 'AES-CBC [RFC3602]'],
  ['rfc3686(ctr(aes))', 'AES-CTR [RFC3686]'],
  ['ecb(cipher_null)', ENCRYPTION_NULL],
]);
const GCM_BY_ICV_BITS: ReadonlyMap<number, string> = new Map([
  [64, 'AES-GCM with 8 octet ICV [RFC4106]'],
  [96, 'AES-GCM with 12 octet ICV [RFC4106]'],
  [128, 'AES-GCM with 16 octet ICV [RFC4106]'],
]);
const AUTHENTICATION_NULL = 'NULL';
/** Keyed by `<engine name>/<truncation bits>`. */
const AUTHENTICATION_BY_AUTH: ReadonlyMap<string, string> = new Map([
  ['hmac(md5)/96', 'HMAC-MD5-96 [RFC2403]'],
  ['hmac(sha1)/96', 'HMAC-SHA-1-96 [RFC2404]'],
  ['hmac(sha256)/96', 'HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]'],
  ['hmac(sha256)/128', 'HMAC-SHA-256-128 [RFC4868]'],
  ['hmac(sha384)/192', 'HMAC-SHA-384-192 [RFC4868]'],
  ['hmac(sha512)/256', 'HMAC-SHA-512-256 [RFC4868]'],
]);
const UNCHECKED_AUTHENTICATION_BITS: ReadonlySet<number> = new Set([64, 96, 128, 192, 256]);
const ADDRESS_REGEXP = /^(?:\*|[0-9A-Fa-f.:]{2,45}(?:\/\d{1,3})?)$/;

function hex(bytes: Uint8Array): string {
  let s = '0x';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function assertKey(name: string, key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length === 0) {
    throw new TypeError(`Invalid ${name} key: expected a non-empty Uint8Array`);
  }
}

function assertAddress(name: string, address: string): void {
  if (typeof address !== 'string' || !ADDRESS_REGEXP.test(address)) {
    throw new RangeError(
      `Invalid ${name}: expected '*' or an IP address, got '${String(address)}'`,
    );
  }
}

/**
 * Formats an SA, **including its keys in clear hex**, as a Wireshark `esp_sa` UAT record:
 * the tshark `-o uat:esp_sa:…` argument and the profile-file line.
 *
 * Name mapping (engine → Wireshark 4.0): `cbc(aes)` → `AES-CBC [RFC3602]`, `rfc3686(ctr(aes))`
 * → `AES-CTR [RFC3686]`, `ecb(cipher_null)` / no cipher → `NULL`, `rfc4106(gcm(aes))` with ICV
 * 64/96/128 → `AES-GCM with 8/12/16 octet ICV [RFC4106]`; `hmac(md5)`/96, `hmac(sha1)`/96,
 * `hmac(sha256)`/96 and /128, `hmac(sha384)`/192, `hmac(sha512)`/256 → the HMAC entries;
 * any other integrity algorithm with a 64/96/128/192/256-bit ICV → `ANY n bit authentication
 * [no checking]` (`authenticationChecked: false`).
 *
 * @param options the SA: family, optional addresses, SPI, algorithms and keys (not retained)
 * @returns the record; both strings contain the keys
 * @throws {WiresharkUnsupportedAlgorithmError} for ChaCha20-Poly1305, an unknown cipher, a GCM
 *   ICV other than 64/96/128 bits, or an integrity ICV length Wireshark cannot even skip
 * @throws {RangeError} on a bad SPI, address, family or an AEAD combined with cipher/auth
 * @throws {TypeError} on an empty or non-Uint8Array key
 * @example Decrypt a capture with tshark
 * ```ts
 * import assert from 'node:assert/strict';
 * import { execFileSync } from 'node:child_process';
 * import { randomBytes } from 'node:crypto';
 * import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { encodePcap, formatEspSaWithKeysForWireshark } from 'tsnetd/datapath';
 * import { buildIpv4Packet, buildUdpDatagram, EspOutboundSa } from 'tsnetd/esp';
 * const keyAndSalt = randomBytes(20);
 * const aead = { name: 'rfc4106(gcm(aes))', key: keyAndSalt, icvLengthBits: 128 } as const;
 * const lo = Uint8Array.of(127, 0, 0, 1);
 * const udp = buildUdpDatagram({ srcAddr: lo, dstAddr: lo, srcPort: 40000, dstPort: 40001, payload: Uint8Array.of(1) });
 * const esp = new EspOutboundSa({ spi: 0x1000, aead }).seal(udp, 17);
 * const dir = mkdtempSync(join(tmpdir(), 'esp-'));
 * writeFileSync(join(dir, 'esp.pcap'), encodePcap([{ timestampMs: Date.now(), packet: buildIpv4Packet({ src: lo, dst: lo, protocol: 50, payload: esp }) }]));
 * const sa = formatEspSaWithKeysForWireshark({
 *   protocol: 'IPv4', spi: 0x1000,
 *   aead: { name: 'rfc4106(gcm(aes))', key: keyAndSalt, icvLengthBits: 128 },
 * });
 * const text = execFileSync('tshark', ['-r', join(dir, 'esp.pcap'), '-o', 'esp.enable_encryption_decode:TRUE',
 *   '-o', sa.uatOption], { encoding: 'utf8' });
 * rmSync(dir, { recursive: true });
 * assert.match(text, /40000 → 40001/); // the decrypted UDP datagram
 * ```
 */
export function formatEspSaWithKeysForWireshark(
  options: WiresharkEspSaOptions,
): WiresharkEspSaRecord {
  const { protocol, srcAddress = '*', dstAddress = '*', spi, aead, cipher, auth } = options;
  if (protocol !== 'IPv4' && protocol !== 'IPv6') {
    throw new RangeError(`Invalid protocol: expected 'IPv4' or 'IPv6', got '${String(protocol)}'`);
  }
  assertAddress('source address', srcAddress);
  assertAddress('destination address', dstAddress);
  if (!Number.isInteger(spi) || spi < 1 || spi > 0xffffffff) {
    throw new RangeError(`Invalid SPI: expected an integer 1..0xffffffff, got ${String(spi)}`);
  }
  let encryption = ENCRYPTION_NULL;
  let encryptionKey = '';
  let authentication = AUTHENTICATION_NULL;
  let authenticationKey = '';
  let authenticationChecked = true;
  if (aead !== undefined) {
    if (cipher !== undefined || auth !== undefined) {
      throw new RangeError(
        'Invalid SA: an AEAD excludes a separate cipher and integrity algorithm',
      );
    }
    if (aead.name !== 'rfc4106(gcm(aes))') {
      throw new WiresharkUnsupportedAlgorithmError(
        aead.name,
        `Wireshark 4.0 has no ESP support for '${aead.name}'`,
      );
    }
    const name = GCM_BY_ICV_BITS.get(aead.icvLengthBits);
    if (name === undefined) {
      throw new WiresharkUnsupportedAlgorithmError(
        aead.name,
        `ICV length ${String(aead.icvLengthBits)} bits is not 64, 96 or 128`,
      );
    }
    assertKey('AEAD', aead.key);
    encryption = name;
    encryptionKey = hex(aead.key);
  } else {
    if (cipher !== undefined) {
      const name = ENCRYPTION_BY_CIPHER.get(cipher.name);
      if (name === undefined) {
        throw new WiresharkUnsupportedAlgorithmError(
          cipher.name,
          `Wireshark 4.0 has no ESP cipher for '${cipher.name}'`,
        );
      }
      encryption = name;
      if (name !== ENCRYPTION_NULL) {
        assertKey('cipher', cipher.key);
        encryptionKey = hex(cipher.key);
      }
    }
    if (auth !== undefined) {
      assertKey('integrity', auth.key);
      const bits = auth.truncationLengthBits;
      const name = AUTHENTICATION_BY_AUTH.get(`${auth.name}/${String(bits)}`);
      if (name !== undefined) {
        authentication = name;
        authenticationKey = hex(auth.key);
      } else if (UNCHECKED_AUTHENTICATION_BITS.has(bits)) {
        authentication = `ANY ${bits} bit authentication [no checking]`;
        authenticationChecked = false; // Wireshark ignores the key: do not write it
      } else {
        throw new WiresharkUnsupportedAlgorithmError(
          auth.name,
          `Wireshark 4.0 cannot skip a ${String(bits)}-bit ICV of '${auth.name}'`,
        );
      }
    }
  }
  const spiText = formatSpi(spi);
  const fileLine = [
    protocol,
    srcAddress,
    dstAddress,
    spiText,
    encryption,
    encryptionKey,
    authentication,
    authenticationKey,
  ]
    .map((field) => `"${field}"`)
    .join(',');
  return { uatOption: `uat:esp_sa:${fileLine}`, fileLine, authenticationChecked };
}
