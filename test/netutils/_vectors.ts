/**
 * Loads the netutils vector files (test/vectors/netutils/, provenance in its README.md).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { NetutilsRelease } from '../../src/netutils/patterns.ts';

export const VECTORS_DIR = resolve(import.meta.dirname, '../vectors/netutils');

export interface UpstreamCase {
  readonly argv: readonly string[];
  readonly allowed: boolean;
  readonly source: string;
}

export interface DerivedCase {
  readonly id: string;
  readonly source: string;
  readonly release: NetutilsRelease;
  readonly argv: readonly string[];
  readonly allowed: boolean;
  readonly rule: number | null;
  readonly regexAllows?: boolean;
  readonly note?: string;
}

export function loadUpstreamCases(): readonly UpstreamCase[] {
  return JSON.parse(readFileSync(`${VECTORS_DIR}/cases.json`, 'utf8')) as UpstreamCase[];
}

export function loadDerivedCases(): readonly DerivedCase[] {
  const file = JSON.parse(readFileSync(`${VECTORS_DIR}/derived_cases.json`, 'utf8')) as {
    vectors: DerivedCase[];
  };
  return file.vectors;
}

export function loadPatternsFile(): {
  fragments: Record<string, string>;
  versions: Record<string, string[]>;
} {
  return JSON.parse(readFileSync(`${VECTORS_DIR}/patterns.json`, 'utf8'));
}
