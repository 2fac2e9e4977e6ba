/**
 * Private to src/ipsec: the algorithm check both backends make before building an SA. Each
 * algorithm a transform names must be one the esp layer implements, of the right kind (an
 * encryption cipher, an authentication algorithm, an AEAD), else `IllegalArgumentError`.
 */
import {
  type AeadName,
  ALGORITHMS,
  type AuthName,
  type CipherName,
  type EspSaAlgorithms,
} from '../esp/mod.ts';
import type { BackendSaConfig } from './backend.ts';
import { IllegalArgumentError } from './errors.ts';

/**
 * Checks the algorithms of an SA's config against the esp layer's table.
 *
 * @throws {IllegalArgumentError} an algorithm is unknown or of the wrong kind
 */
export function assertSupportedAlgorithms(config: BackendSaConfig): void {
  const { encryption, authentication, aead } = config;
  if (encryption !== undefined && !isKind(encryption.name, 'encryption')) {
    throw new IllegalArgumentError(`Unsupported algorithm: ${encryption.name}`);
  }
  if (authentication !== undefined && !isKind(authentication.name, 'authentication')) {
    throw new IllegalArgumentError(`Unsupported algorithm: ${authentication.name}`);
  }
  if (aead !== undefined && !isKind(aead.name, 'aead')) {
    throw new IllegalArgumentError(`Unsupported algorithm: ${aead.name}`);
  }
}

function isKind(name: string, kind: string): boolean {
  return ALGORITHMS.get(name)?.kind === kind;
}

/**
 * Checks an SA's algorithms ({@link assertSupportedAlgorithms}) and returns them under the esp
 * layer's names (`encryption` → `cipher`, `authentication` → `auth`). The keys are not copied.
 *
 * @throws {IllegalArgumentError} an algorithm is unknown or of the wrong kind
 */
export function espAlgorithms(config: BackendSaConfig): EspSaAlgorithms {
  assertSupportedAlgorithms(config);
  const { encryption, authentication, aead } = config;
  return {
    ...(encryption !== undefined
      ? { cipher: { name: encryption.name as CipherName, key: encryption.key } }
      : {}),
    ...(authentication !== undefined
      ? {
          auth: {
            name: authentication.name as AuthName,
            key: authentication.key,
            truncationLengthBits: authentication.truncationLengthBits,
          },
        }
      : {}),
    ...(aead !== undefined
      ? { aead: { name: aead.name as AeadName, key: aead.key, icvLengthBits: aead.icvLengthBits } }
      : {}),
  };
}
