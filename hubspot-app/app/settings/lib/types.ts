// What the settings page reads and writes (docs/hubspot-app.md). Only the fields the page edits are
// typed; everything else in the playbook is carried through untouched so a save never drops it.

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

/** A property the playbook reads that the app's webhooks do not subscribe to, with the fix (issue 13). */
export type UnsubscribedProperty = { property: string; at: string[]; fix: string };

/** GET /api/settings/playbook and the 200 answer of PUT. */
export type PlaybookResponse = {
  version: number | null;
  updatedAt: string | null;
  updatedBy: string | null;
  playbook: PlaybookDoc | null;
  /** Absent from services older than issue 13. */
  unsubscribedProperties?: UnsubscribedProperty[];
  /** With no playbook yet: one the page can publish as version 1. */
  starter?: PlaybookDoc | null;
};

export type ProvisioningState = 'not_started' | 'in_progress' | 'complete' | 'failed';

/** GET /api/settings/status */
export type StatusResponse = {
  portalId: number;
  installed: boolean;
  installedAt: string | null;
  missingScopes: string[];
  provisioning: {
    state: ProvisioningState;
    propertiesExpected: number;
    propertiesPresent: number;
    lastRunAt: string | null;
    error: string | null;
  };
  lastWebhookAt: string | null;
  lastSweepAt: string | null;
};
