/**
 * Drives `scapy_esp.py` (Debian python3-scapy 2.5.0) from tests: maps the engine's algorithm
 * names to scapy's, batches many requests into one Python process (scapy's import alone takes
 * about a second), and parses the JSON answer. No shell: `/usr/bin/python3` with an argv array.
 *
 * Installed by `scripts/ensure-test-deps.sh` (run by `npm test`); a missing interpreter or
 * scapy module throws a clear error instead of skipping.
 */
import { join } from 'node:path';
import { runOracle } from './run_oracle.ts';

/** Debian's interpreter; the python3 first on PATH may not see Debian's scapy. */
export const DEBIAN_PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, 'scapy_esp.py');

/** The SA fields the oracle needs, with the engine's (Android / Linux crypto) names. */
export interface OracleSa {
  readonly spi: number;
  readonly aead?: {
    readonly name: string;
    readonly key: Uint8Array;
    readonly icvLengthBits: number;
  };
  readonly cipher?: { readonly name: string; readonly key: Uint8Array };
  readonly auth?: {
    readonly name: string;
    readonly key: Uint8Array;
    readonly truncationLengthBits: number;
  };
  readonly esn?: boolean;
}

export interface ScapySa {
  readonly spi: number;
  readonly crypt_algo: string;
  readonly crypt_key: string | null;
  readonly auth_algo: string | null;
  readonly auth_key: string | null;
  readonly esn_en: boolean;
  readonly esn: number;
  readonly nat_t?: boolean;
}

export type ScapyRequest =
  | { readonly op: 'open'; readonly sa: ScapySa; readonly family: 4 | 6; readonly esp: string }
  | { readonly op: 'open'; readonly sa: ScapySa; readonly family: 4 | 6; readonly packet: string }
  | {
      readonly op: 'seal';
      readonly sa: ScapySa;
      readonly family: 4 | 6;
      readonly payload: string;
      readonly nh: number;
      readonly seq: number;
      readonly iv: string;
    };

export type ScapyResult =
  | {
      readonly ok: true;
      readonly nh: number;
      readonly payload: string;
      readonly padlen: number;
      readonly seq: number;
    }
  | { readonly ok: true; readonly esp: string; readonly wire: string }
  | { readonly ok: false; readonly error: string };

const CRYPT: Readonly<Record<string, string>> = {
  'cbc(aes)': 'AES-CBC',
  'rfc3686(ctr(aes))': 'AES-CTR',
  'ecb(cipher_null)': 'NULL',
  'rfc4106(gcm(aes))': 'AES-GCM',
  'rfc7539esp(chacha20,poly1305)': 'CHACHA20-POLY1305',
};
const AUTH: Readonly<Record<string, string>> = {
  'hmac(md5)/96': 'HMAC-MD5-96',
  'hmac(sha1)/96': 'HMAC-SHA1-96',
  'hmac(sha256)/128': 'SHA2-256-128',
  'hmac(sha384)/192': 'SHA2-384-192',
  'hmac(sha512)/256': 'SHA2-512-256',
  'cmac(aes)/96': 'AES-CMAC-96',
};

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

/**
 * Describes an SA for scapy. `esnHigh` is the high 32 bits of the sequence number (scapy keeps
 * it per call, it has no window). Throws for what scapy 2.5.0 cannot express.
 */
export function scapySaFor(sa: OracleSa, esnHigh = 0): ScapySa {
  let cryptAlgo = 'NULL';
  let cryptKey: string | null = null;
  let authAlgo: string | null = null;
  let authKey: string | null = null;
  if (sa.aead !== undefined) {
    const name = CRYPT[sa.aead.name];
    if (name === undefined) throw new RangeError(`scapy 2.5.0 has no ${sa.aead.name}`);
    if (sa.aead.icvLengthBits !== 128) {
      throw new RangeError('scapy 2.5.0 always uses a 16-byte AEAD ICV');
    }
    cryptAlgo = name;
    cryptKey = hex(sa.aead.key);
  } else {
    if (sa.cipher !== undefined) {
      const name = CRYPT[sa.cipher.name];
      if (name === undefined) throw new RangeError(`scapy 2.5.0 has no ${sa.cipher.name}`);
      cryptAlgo = name;
      cryptKey = name === 'NULL' ? null : hex(sa.cipher.key);
    }
    if (sa.auth !== undefined) {
      const name = AUTH[`${sa.auth.name}/${sa.auth.truncationLengthBits}`];
      if (name === undefined) {
        throw new RangeError(`scapy 2.5.0 has no ${sa.auth.name}/${sa.auth.truncationLengthBits}`);
      }
      if (sa.esn === true) throw new RangeError('scapy 2.5.0 leaves ESN out of HMAC/CMAC ICVs');
      authAlgo = name;
      authKey = hex(sa.auth.key);
    }
  }
  return {
    spi: sa.spi,
    crypt_algo: cryptAlgo,
    crypt_key: cryptKey,
    auth_algo: authAlgo,
    auth_key: authKey,
    esn_en: sa.esn === true,
    esn: esnHigh,
  };
}

/** Runs all requests in one scapy process and returns the results in order. */
export async function runScapyEsp(requests: readonly ScapyRequest[]): Promise<ScapyResult[]> {
  const stdout = await runOracle(DEBIAN_PYTHON, [SCRIPT], {
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C.UTF-8' },
    timeoutMs: 50_000,
    maxBuffer: 256 * 1024 * 1024,
    stdin: JSON.stringify({ requests }),
    what: 'the scapy oracle (is python3-scapy installed? run scripts/ensure-test-deps.sh)',
  });
  const doc = JSON.parse(stdout) as { scapy: string; results: ScapyResult[] };
  if (!doc.scapy.startsWith('2.5.')) {
    throw new Error(`Unexpected scapy version '${doc.scapy}': the documented limits are for 2.5.0`);
  }
  if (doc.results.length !== requests.length) {
    throw new Error(
      `scapy oracle returned ${doc.results.length} results for ${requests.length} requests`,
    );
  }
  return doc.results;
}
