import { BREACH_REASONS, CLOSURE_REASONS } from './playbook/schema';

/** HubSpot property group that holds every property Stagekeeper writes back. */
export const PROPERTY_GROUP = { name: 'stagekeeper', label: 'Stagekeeper', displayOrder: -1 } as const;

export const SLA_STATUSES = [
  'running',
  'paused',
  'warning',
  'breached',
  'met',
  'breached_closed',
  'cancelled',
] as const;
export const GATE_STATUSES = ['clear', 'blocked_reverted', 'blocked_remediation'] as const;
export const BREACH_REASON_SOURCES = ['inferred', 'manual'] as const;

type Option = { label: string; value: string; displayOrder: number; hidden: false };
const options = (values: readonly string[]): Option[] =>
  values.map((value, displayOrder) => ({
    label: value.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()),
    value,
    displayOrder,
    hidden: false,
  }));

/**
 * A deal property Stagekeeper writes back, in the shape HubSpot's properties API takes on create.
 * Types are reportable ones (enumeration, datetime, number) so ops can build reports on them.
 */
export type PropertyDefinition = {
  name: string;
  label: string;
  description: string;
  groupName: typeof PROPERTY_GROUP.name;
  type: 'enumeration' | 'datetime' | 'number' | 'string';
  fieldType: 'select' | 'date' | 'number' | 'text' | 'textarea';
  options?: Option[];
};

const def = (
  name: string,
  label: string,
  description: string,
  type: PropertyDefinition['type'],
  values?: readonly string[],
): PropertyDefinition => ({
  name,
  label,
  description,
  groupName: PROPERTY_GROUP.name,
  type,
  fieldType:
    type === 'enumeration' ? 'select' : type === 'datetime' ? 'date' : type === 'number' ? 'number' : 'text',
  ...(values ? { options: options(values) } : {}),
});

/** Internal names of the written-back properties; the engine's setProperties commands use only these. */
export const P = {
  slaStatus: 'stagekeeper_sla_status',
  slaDueAt: 'stagekeeper_sla_due_at',
  slaWarningAt: 'stagekeeper_sla_warning_at',
  slaBreachedAt: 'stagekeeper_sla_breached_at',
  breachReason: 'stagekeeper_breach_reason',
  breachReasonSource: 'stagekeeper_breach_reason_source',
  breachStage: 'stagekeeper_breach_stage',
  breachCount: 'stagekeeper_breach_count',
  escalationLevel: 'stagekeeper_escalation_level',
  gateStatus: 'stagekeeper_gate_status',
  gateMissing: 'stagekeeper_gate_missing',
  stageOwnerRole: 'stagekeeper_stage_owner_role',
  backflowCount: 'stagekeeper_backflow_count',
  /** Event clocks (playbook `clocks:`): which are open, the earliest due, and the latest breach. */
  clocksOpen: 'stagekeeper_clocks_open',
  clocksDueAt: 'stagekeeper_clocks_due_at',
  clockBreach: 'stagekeeper_clock_breach',
  clockBreachedAt: 'stagekeeper_clock_breached_at',
  clockBreachReason: 'stagekeeper_clock_breach_reason',
  closureReason: 'stagekeeper_closure_reason',
  breachEvidence: 'stagekeeper_breach_evidence',
  breachOwnerOpenTasks: 'stagekeeper_breach_owner_open_tasks',
  breachUnansweredAttempts: 'stagekeeper_breach_unanswered_attempts',
} as const;

export const WRITTEN_BACK_PROPERTIES: PropertyDefinition[] = [
  def(P.slaStatus, 'SLA status', 'State of the current stage SLA clock.', 'enumeration', SLA_STATUSES),
  def(P.slaDueAt, 'SLA due at', 'When the current stage SLA breaches (moves with pauses).', 'datetime'),
  def(P.slaWarningAt, 'SLA warning at', 'When the owner is warned for the current stage.', 'datetime'),
  def(P.slaBreachedAt, 'SLA breached at', 'When the latest SLA breach happened.', 'datetime'),
  def(P.breachReason, 'Breach reason', 'Why the latest SLA breach happened.', 'enumeration', BREACH_REASONS),
  def(
    P.breachReasonSource,
    'Breach reason source',
    'Inferred by Stagekeeper or set by a rep.',
    'enumeration',
    BREACH_REASON_SOURCES,
  ),
  def(P.breachStage, 'Breach stage', 'Stage id in which the latest breach happened.', 'string'),
  def(P.breachCount, 'Breach count', 'SLA breaches over the life of the deal.', 'number'),
  def(
    P.escalationLevel,
    'Escalation level',
    'Highest escalation level reached in the current stage (0 = none).',
    'number',
  ),
  def(
    P.gateStatus,
    'Gate status',
    'Outcome of the latest transition gate check.',
    'enumeration',
    GATE_STATUSES,
  ),
  def(
    P.gateMissing,
    'Gate missing items',
    'What the latest blocked move was missing (labels, not values).',
    'string',
  ),
  def(P.stageOwnerRole, 'Stage owner role', 'Role accountable for the current stage.', 'string'),
  def(P.backflowCount, 'Backflow count', 'Backward stage moves over the life of the deal.', 'number'),
  def(
    P.clocksOpen,
    'Open event clocks',
    'Ids of the event clocks running on the deal (e.g. support_inquiry).',
    'string',
  ),
  def(
    P.clocksDueAt,
    'Event clocks due at',
    'Earliest due time of the open event clocks (past when one has breached).',
    'datetime',
  ),
  def(P.clockBreach, 'Event clock breach', 'Id of the event clock that breached latest.', 'string'),
  def(
    P.clockBreachedAt,
    'Event clock breached at',
    'When the latest event clock breach happened.',
    'datetime',
  ),
  def(
    P.clockBreachReason,
    'Event clock breach reason',
    'Why the latest event clock breach happened.',
    'enumeration',
    BREACH_REASONS,
  ),
  def(
    P.closureReason,
    'Closure reason',
    'Why the deal closed (a closed stage with closure reasons requires one); cleared when the deal is reopened.',
    'enumeration',
    CLOSURE_REASONS,
  ),
  def(
    P.breachEvidence,
    'Breach evidence',
    'What decided the latest breach reason (rule labels, never values).',
    'string',
  ),
  def(
    P.breachOwnerOpenTasks,
    'Breach owner open tasks',
    'Open tasks the deal owner held in HubSpot at the latest breach (capacity evidence); empty when unknown.',
    'number',
  ),
  def(
    P.breachUnansweredAttempts,
    'Breach unanswered attempts',
    'Contact attempts logged in the breached stage without an inbound reply (patient-unreachable evidence).',
    'number',
  ),
];
