import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration';
import { loadExamplePlaybook } from './load-file';

// The canonical telehealth playbook's `clocks:` and `assignment:` blocks against seed 000 (Telehealth CRM Pipeline
// Design). Behaviour is walked in test/e2e/seed-000-events-and-routing.test.ts; this pins the numbers.
const playbook = loadExamplePlaybook('telehealth');
const clock = (id: string) => playbook.clocks.find((c) => c.id === id)!;
const HOUR = 3_600_000;

describe('canonical telehealth playbook: seed 000 care-continuity SLAs and owner model', () => {
  it('seed 000 line 89 "Support inquiry response: <= 1 business hour"', () => {
    const c = clock('support_inquiry');
    expect(parseDuration(c.sla.target)).toBe(HOUR);
    expect(c.sla.basis).toBe('business');
    expect(c.sla.calendar).toBeDefined();
    expect(c.start.on).toBe('change');
    expect(c.stopOn.length + c.stopWhen.length).toBeGreaterThan(0);
  });

  it('seed 000 line 90 "Refill follow-up on missing inputs: <= 24 hours" (calendar hours)', () => {
    const c = clock('refill_missing_inputs');
    expect(parseDuration(c.sla.target)).toBe(24 * HOUR);
    expect(c.sla.basis).toBe('calendar');
    expect(c.stopOn).toEqual([{ property: c.start.property, on: 'cleared' }]);
  });

  it('seed 000 lines 102-103: each clock warns inside 70-80 % and escalates to its role lead at breach', () => {
    for (const c of playbook.clocks) {
      expect(c.sla.warningAt).toBeGreaterThanOrEqual(70);
      expect(c.sla.warningAt).toBeLessThanOrEqual(80);
      const atBreach = c.sla.escalations.find((l) => l.at === 100);
      expect(atBreach?.actions.map((a) => a.type)).toContain('taskForLead');
    }
  });

  it('seed 000 lines 64-74 "one stage, one accountable role": work follows the stage role', () => {
    expect(playbook.assignment).toMatchObject({ policy: 'assignDeal' });
    expect(Object.values(playbook.assignment!.stages).every((s) => s.policy !== 'keep')).toBe(true);
  });
});
