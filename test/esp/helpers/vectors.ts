/**
 * Loads `test/vectors/esp/esp-vectors.json` (provenance in `test/vectors/README.md`).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface EspVector {
  readonly id: string;
  readonly source: string;
  readonly algorithm: string;
  readonly key: string;
  readonly keymat_key_then_salt?: string | null;
  readonly spi: string | null;
  readonly seq: string | null;
  readonly esn?: boolean | null;
  readonly iv: string | null;
  readonly aad?: string | null;
  readonly plaintext_ip_payload_or_packet: string;
  readonly gcm_plaintext?: string | null;
  readonly aead_plaintext?: string | null;
  readonly cbc_plaintext?: string | null;
  readonly pad_length?: number | null;
  readonly next_header?: number | null;
  readonly expected_esp: string | null;
  readonly expected_icv?: string | null;
  readonly hmac_full?: string | null;
  readonly icv_len: number;
}

const FILE = resolve(import.meta.dirname, '../../vectors/esp/esp-vectors.json');

export function loadEspVectors(): readonly EspVector[] {
  const json = JSON.parse(readFileSync(FILE, 'utf8')) as { vectors: EspVector[] };
  return json.vectors;
}
