/**
 * Private to src/ipsec: the algorithm check both backends make before building an SA. Each
 * algorithm a transform names must be one the esp layer implements, of the right kind (an
 * encryption cipher, an authentication algorithm, an AEAD), else `IllegalArgumentError`.
 */
import { ALGORITHMS } from '../esp/mod.ts';
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
