import type { Playbook } from '@stagekeeper/shared';

/** The canonical telehealth playbook's ids the demo script drives (shared/playbooks/telehealth-intake.yaml). */
export const TELEHEALTH = {
  pipeline: '812404417',
  stages: {
    newLead: '1180512201',
    contactAttempted: '1180512202',
    intakeStarted: '1180512203',
    remediation: '1180512204',
    intakeCompleted: '1180512205',
    clinicalReview: '1180512206',
  },
} as const;

/** Whether the demo script can drive this playbook: the pipeline, the stages it moves deals through, and owners. */
export function demoCompatible(playbook: Playbook): boolean {
  const pipeline = playbook.pipelines.find((p) => p.id === TELEHEALTH.pipeline);
  if (!pipeline) return false;
  const ids = new Set(pipeline.stages.map((s) => s.id));
  const roles = new Set(pipeline.stages.map((s) => s.ownerRole));
  return (
    Object.values(TELEHEALTH.stages).every((id) => ids.has(id)) &&
    playbook.roles.filter((r) => roles.has(r.id)).every((r) => r.owners.length > 0)
  );
}

/**
 * The loaded playbook with every calendar open around the clock and without holidays. The demo's clock starts at
 * whatever time the evaluator runs it; on the canonical calendars a Saturday night start would leave every SLA
 * clock standing still. SLA targets stay as written: the scaled clock, not shorter targets, makes them fast
 * (durations have minute granularity, so "20 s" cannot be written).
 */
export function demoPlaybook(playbook: Playbook): Playbook {
  const copy = structuredClone(playbook);
  copy.calendars = copy.calendars.map((c) => {
    const { holidaySet: _dropped, ...rest } = c;
    return { ...rest, hours: '24/7' as const, holidays: [] };
  });
  return copy;
}
