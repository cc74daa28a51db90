import type { ManagedCardView, CardSla, UnmanagedCardView } from '@stagekeeper/app-client/api';

export const sla = (over: Partial<CardSla> = {}): CardSla => ({
  status: 'running',
  basis: 'business',
  target: '4h',
  targetMs: 4 * 3_600_000,
  elapsedMs: 3_600_000,
  remainingMs: 3 * 3_600_000,
  dueAt: '2026-11-24T20:00:00.000Z',
  originalDueAt: '2026-11-24T20:00:00.000Z',
  warningAt: '2026-11-24T19:00:00.000Z',
  breachedAt: null,
  pausedAt: null,
  pauseReason: null,
  metAt: null,
  ...over,
});

export const managed = (over: Partial<ManagedCardView> = {}): ManagedCardView => ({
  managed: true,
  dealId: '123',
  playbookVersion: 3,
  pipeline: { id: 'intake', label: 'Telehealth intake' },
  stage: { id: 'review', label: 'Intake review', enteredAt: '2026-11-24T14:00:00.000Z' },
  ownerRole: { id: 'intake_nurse', name: 'Intake nurse' },
  sla: sla(),
  exitChecklist: [
    { label: 'Intake summary written', met: true },
    { label: 'Documents received', met: false },
  ],
  requiredActions: [],
  nextMove: null,
  gate: {
    status: 'clear',
    blockedFrom: null,
    blockedTo: null,
    movedTo: null,
    at: null,
    missing: [],
    remedy: null,
  },
  breachReason: null,
  breaches: [],
  watchProperties: ['intake_summary', 'intake_documents_received'],
  ...over,
});

export const unmanaged: UnmanagedCardView = {
  managed: false,
  dealId: '123',
  reason: 'unmanaged_pipeline',
  pipeline: { id: 'default', label: 'Sales pipeline' },
};
