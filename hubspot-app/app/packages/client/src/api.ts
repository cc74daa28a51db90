// The service's response types, under the service's names, imported as types only from the code that builds the
// responses: HubSpot's build erases `import type`, so no service code reaches a bundle, and a field renamed on the
// service fails `npm run typecheck` here. docs/hubspot-app.md §4 documents the same shapes for people.
// @stagekeeper/shared and @stagekeeper/sync-service are deliberately not in package.json: they resolve through the
// repository's workspaces for tsc, and HubSpot's build, which installs only hubspot-app/, never needs them.
import type {
  CardBreach as ServiceCardBreach,
  ManagedCardView as ServiceManagedCardView,
  UnmanagedCardView,
} from '@stagekeeper/shared/view/card';
import type { PlaybookBody as ServicePlaybookBody } from '@stagekeeper/sync-service/api/settings-routes';
import type { CardFreshness } from '@stagekeeper/sync-service/api/card-snapshot';

/**
 * Fields a service older than the app leaves out: the app is uploaded to HubSpot and the service deployed apart,
 * so the app renders without them rather than trusting both to move together.
 */
type FromOlderService<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

// GET /api/card/deal/:dealId (the deal card).
export type {
  CardAction,
  CardEventClock,
  CardGate,
  CardNextMove,
  CardPage,
  CardRouting,
  CardSla,
  CardSlaStatus,
  CardTrailEvent,
  Ref,
  UnmanagedCardView,
} from '@stagekeeper/shared/view/card';
export type { BreachReason } from '@stagekeeper/shared/playbook/schema';

/** A past breach; services before reason corrections send no visit id, evidence or corrected flag. */
export type CardBreach = FromOlderService<ServiceCardBreach, 'entryId' | 'evidence' | 'corrected'>;
export type ManagedCardView = FromOlderService<
  Omit<ServiceManagedCardView, 'breaches'> & { breaches: CardBreach[] },
  'eventClocks' | 'routing' | 'trail'
> & { freshness?: CardFreshness };
export type CardView = ManagedCardView | UnmanagedCardView;
/**
 * Where a managed card's HubSpot view came from (issue #18): read now (`live`), this service's read at `asOf`
 * (`recent`), or none while HubSpot is busy (`saved`: the SLA and contract are Stagekeeper's own, current; what
 * only HubSpot knows, the checklist and task states, could not be checked). GET only; older services send none.
 */
export type { CardFreshness };

// GET /api/scorecard (the app home page).
export type {
  Scorecard,
  ScorecardDimensionRow,
  ScorecardMetrics,
  ScorecardRoleRow,
  ScorecardStageRow,
} from '@stagekeeper/shared/scorecard/types';
export type { ScorecardFunnel } from '@stagekeeper/shared/scorecard/funnel';
/** GET /api/scorecard?format=csv: the CLI's CSV, wrapped in JSON for hubspot.fetch. */
export type ScorecardCsv = { week: string; filename: string; csv: string };

// GET /api/settings/status and /api/settings/playbook (the settings page).
export type { InstallStatusBody } from '@stagekeeper/sync-service/api/install-status';
export type { ProvisioningState } from '@stagekeeper/sync-service/install/registry';
export type { UnsubscribedProperty } from '@stagekeeper/sync-service/webhooks/subscriptions';

/** What the settings page edits: the playbook as JSON, every field it does not type carried through untouched. */
type Open = { [key: string]: unknown };
export type SlaDoc = Open & {
  target: string;
  basis?: 'business' | 'calendar';
  calendar?: string;
  warningAt?: number;
};
export type StageDoc = Open & {
  id: string;
  label: string;
  ownerRole: string;
  sla?: SlaDoc;
  closed?: boolean;
};
export type PipelineDoc = Open & { id: string; label: string; stages: StageDoc[] };
export type PlaybookDoc = Open & {
  schemaVersion: 1;
  name: string;
  version: number;
  calendars: (Open & { id: string; timeZone: string })[];
  roles: (Open & { id: string; name: string })[];
  pipelines: PipelineDoc[];
};

/**
 * The service's playbook answer with the playbook read as an editable document rather than the parsed one (a save
 * must not drop what the page does not know). Services before issue 13 send no unsubscribed properties or starter.
 */
export type PlaybookBody = FromOlderService<
  Omit<ServicePlaybookBody, 'playbook' | 'starter'> & {
    playbook: PlaybookDoc | null;
    starter: PlaybookDoc | null;
  },
  'unsubscribedProperties' | 'starter'
>;
