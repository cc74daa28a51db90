export {
  SandboxPortal,
  type SandboxOptions,
  type Faults,
  type ApiFaults,
  type RequestRecord,
} from './portal';
export { startSandboxServer, type SandboxServer } from './server';
export { sandboxHandlers } from './msw';
export { seedFromPlaybook } from './seed';
export { manualClock, type ManualClock } from './clock';
export { PortalUi } from './ui';
export {
  WebhookDispatcher,
  signV3,
  DEAL_EVENT_TYPES,
  DEAL_OBJECT_TYPE_ID,
  type WebhookFormat,
  type WebhookEvent,
  type Subscription,
  type DealEventType,
  type DeliveryRecord,
  type WebhookOptions,
} from './webhooks';
export { DEFAULT_PIPELINE, type PipelineSeed, type StageSeed, type Pipeline, type Stage } from './pipelines';
export type { OwnerSeed, Owner } from './owners';
export type { Change, Source, StoredObject } from './objects';
export type { SandboxRequest, SandboxResponse } from './router';
export { HubSpotError } from './errors';
export { SEARCH_LIMITS } from './search';
export { stageHistoryProperties } from './stages';
