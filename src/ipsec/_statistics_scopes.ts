/**
 * A backend's counters per statistics scope (one scope per IpSecManager), each counting into the
 * backend's totals too: every backend keeps its statistics this way.
 */
import { DatapathStatistics } from '../datapath/mod.ts';

/** Totals, and one {@link DatapathStatistics} per scope object (held weakly). */
export class StatisticsScopes {
  /** What every scope counts, and what is counted without a scope. */
  readonly total: DatapathStatistics;
  readonly #scopes = new WeakMap<object, DatapathStatistics>();

  constructor(total: DatapathStatistics = new DatapathStatistics()) {
    this.total = total;
  }

  /** The counters of `scope` (created on first use); without a scope, the totals. */
  of(scope: object | undefined): DatapathStatistics {
    if (scope === undefined) return this.total;
    let statistics = this.#scopes.get(scope);
    if (statistics === undefined) {
      statistics = new DatapathStatistics(this.total);
      this.#scopes.set(scope, statistics);
    }
    return statistics;
  }
}
