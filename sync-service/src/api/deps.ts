import type { DealSnapshot, DealState, HistoryRow, RowBatch } from '@stagekeeper/shared';
import type { Logger } from '../log';
import type { HubSpotGateway } from '../ports';
import type { DealStateStore } from '../state/deal-state-store';
import type { PlaybookStore } from '../state/playbook-store';
import type { ChannelStore } from '../notify/channel-store';
import type { PageTrail } from '../notify/page-trail';
import type { ReplayStore } from '../http/replay-store';
import type { ReasonAuditLog } from '../state/reason-audit-store';
import type { HistoryWeeks } from './history-weeks';
import type { InstallStatusStore } from './install-status';
import type { PlaybookMetaStore } from '../state/playbook-meta-store';

/** What the API routes need; every method takes the caller's signed portal id first. */
export type ApiDeps = {
  clientSecret: string;
  /** config PUBLIC_URL: signatures cover the public URL, which the service cannot see behind a proxy. */
  publicUrl: string | undefined;
  log: Logger;
  clock?: () => number;
  playbooks: Pick<PlaybookStore, 'current' | 'save'>;
  meta: Pick<PlaybookMetaStore, 'get' | 'set' | 'withSaveLock'>;
  states: Pick<DealStateStore, 'load' | 'save'>;
  history: {
    rows(portalId: string, dealId: string, now: number): Promise<HistoryRow[]>;
    /** Writes a corrected row over its own field; absent: past breaches cannot be corrected. */
    rewrite?(portalId: string, row: HistoryRow): Promise<void>;
  };
  /** What-if input: visits that ended in the last `weeks` weeks and the deals with a visit open now. */
  whatIfData?: (
    portalId: string,
    now: number,
    weeks: number,
  ) => Promise<{ rows: HistoryRow[]; running: DealState[] }>;
  weeks: {
    /** Rows whose exit falls in [fromMs, toMs) (a superset is fine). */
    rows(portalId: string, fromMs: number, toMs: number): Promise<HistoryRow[]>;
    /** Exactly the rows whose exit falls in [fromMs, toMs), cut while decoding (the scorecard's read). */
    rowsExiting(portalId: string, fromMs: number, toMs: number): Promise<HistoryRow[]>;
    /** The same rows folded into `fresh()` a batch at a time, none kept (the scorecard's read). */
    foldExiting<F extends { add(rows: RowBatch): void }>(
      portalId: string,
      fromMs: number,
      toMs: number,
      fresh: () => F,
    ): Promise<F>;
    /** A period's scorecard folded from its rows (HistoryWeeks.scorecard), to be finished with the open visits. */
    scorecard: HistoryWeeks['scorecard'];
    /** Instants (UTC Monday 00:00) of stored weeks with data, newest first, looking back `count` weeks. */
    stored(portalId: string, now: number, count: number): Promise<number[]>;
  };
  gateway: {
    snapshots(portalId: string, dealIds: string[], properties: string[]): Promise<Map<string, DealSnapshot>>;
    apply: HubSpotGateway['apply'];
  };
  install: Pick<InstallStatusStore, 'status'>;
  /** Who may change the playbook: the portal's admin list kept at install (InstallRegistry.isAdmin). */
  admins: { isAdmin(portalId: string, userId: string | null): Promise<boolean> };
  audit: ReasonAuditLog;
  /** After a playbook save: have the worker re-decide the portal's open visits under the new version. */
  recompute?: (portalId: string) => Promise<void>;
  /** Paging channels (settings page); absent: the channel routes are not mounted. */
  channels?: Pick<
    ChannelStore,
    'get' | 'put' | 'remove' | 'setDefault' | 'health' | 'canStore' | 'recordSuccess' | 'recordFailure'
  >;
  /** The deals' paging trails, shown on the card. */
  pageTrail?: Pick<PageTrail, 'list'>;
  /** Signed writes already carried out (replays within the signature window are refused). */
  replay?: Pick<ReplayStore, 'claim'>;
  /** Budget for the live HubSpot read; the UI gives up after 15 s and we answer within 10 s (§4.1). */
  hubspotTimeoutMs?: number;
};
