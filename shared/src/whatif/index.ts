export * from './types';
export { whatIf, WEEK_MS as WHATIF_WEEK_MS, type WhatIfInput } from './compare';
export { replayVisit, type VisitReplay, type ReplayOutcome } from './replay-visit';
export { repairPreview } from './repair';
export { planOf } from './plan';
export { recordedTruth } from './recorded';
export * from './format';
