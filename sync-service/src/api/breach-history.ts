import type { HistoryRow } from '@stagekeeper/shared';
import type { HistoryStore } from '../state/history-store';

/**
 * One deal's finished stage visits, for the card's breach list, and the correction of one of them. HistoryStore
 * indexes visits by deal, so this costs O(visits of the deal), not a scan of the portal's weeks.
 */
export class DealHistoryReader {
  constructor(private readonly store: Pick<HistoryStore, 'append' | 'dealRows'>) {}

  /** Writes a corrected row back over its own field (its exit week's hash, keyed by the visit). */
  async rewrite(portalId: string, row: HistoryRow): Promise<void> {
    await this.store.append(portalId, [row]);
  }

  rows(portalId: string, dealId: string, now: number): Promise<HistoryRow[]> {
    return this.store.dealRows(portalId, dealId, now);
  }
}
