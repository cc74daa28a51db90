import type { DealState, Playbook } from '@stagekeeper/shared';
import type { ApiDeps } from '../api/deps';
import type { HistoryWeeks } from '../api/history-weeks';

/**
 * What the local page reads. It is attached once the stack is up (the HTTP server starts inside startStack, so
 * a request can arrive before the stores exist; the page then answers 503 for that moment).
 */
export type LocalUiSource = {
  portalId: string;
  clock: () => number;
  /** Deal ids the sandbox portal holds, newest first. */
  dealIds: () => string[];
  states: { loadMany(portalId: string, dealIds: string[]): Promise<{ state: DealState | null }[]> };
  playbooks: { current(portalId: string): Promise<{ playbook: Playbook; version: number } | null> };
  /** The stored weeks' scorecard (HistoryWeeks.scorecard), as the app's scorecard reads it. */
  weeks: Pick<HistoryWeeks, 'scorecard'>;
  /** The settings API's what-if reader (createApiRoutes' whatIfData); absent: the page's preview answers 503. */
  whatIfData?: ApiDeps['whatIfData'];
  /** The demo driver's status, when it runs. */
  demo?: () => unknown;
  /** How much faster than real time the clock runs (1 without the demo). */
  speed: number;
};
