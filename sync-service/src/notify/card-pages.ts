import type { CardPage } from '@stagekeeper/shared';
import type { PageRecord } from './page-trail';

/** The card's view of a deal's paging trail: level, stage, channel, status and a code, nothing else. */
export function cardPages(records: readonly PageRecord[]): CardPage[] {
  return records.map((r) => ({
    level: r.level,
    stage: r.stage,
    channel: r.channel,
    status: r.status,
    at: new Date(r.updatedAt).toISOString(),
    detail: r.status === 'resolved' ? (r.resolvedWhy ?? null) : (r.error ?? null),
  }));
}
