import { describe, expect, it } from 'vitest';
import { benchPlaybook, benchTargetMinutes } from '../bench/playbook';
import { chaosPlaybook, chaosTargetMinutes } from '../chaos/playbook';
import { stageRules } from '../chaos/verify';

const MIN = 60_000;
const HOUR = 60 * MIN;

/**
 * Issue #18: a 10,000-deal bench's set-up took longer than the chaos playbook's 2-minute first-stage SLA, so its
 * measured move also ran ~3 timer firings per deal. The benches play the same stages with SLAs that outlast any
 * bench; the chaos suite keeps its own.
 */
describe('the benchmarks playbook (issue 18)', () => {
  it('fires no timer within the longest bench budget: the earliest, a warning, is 12 h after entry', () => {
    const rules = [...stageRules(benchPlaybook()).values()];
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      // Warning first, escalations after the target: the earliest firing is at warningPct of the target.
      const earliest = (r.targetMs * Math.min(r.warningPct ?? 100, ...r.escalationPcts)) / 100;
      expect(earliest).toBeGreaterThanOrEqual(12 * HOUR);
    }
    expect(stageRules(benchPlaybook()).get('sk_chaos_new')!.targetMs).toBe(benchTargetMinutes(0) * MIN);
  });

  it('still arms timers for every stage (the cost bench counts what they cost)', () => {
    for (const [id, r] of stageRules(benchPlaybook())) {
      expect(r, id).toMatchObject({ warningPct: 50, escalationPcts: [150] });
    }
    expect(stageRules(benchPlaybook()).size).toBe(stageRules(chaosPlaybook()).size);
  });

  it('plays the chaos stages, gate and task templates: only the name and the SLA targets differ', () => {
    const shape = (p: ReturnType<typeof chaosPlaybook>) =>
      JSON.parse(
        JSON.stringify(p, (k, v: unknown) => (k === 'target' || k === 'name' ? undefined : v)),
      ) as unknown;
    expect(shape(benchPlaybook())).toEqual(shape(chaosPlaybook()));
    expect(benchPlaybook().name).toBe('Bench');
  });

  it("leaves the chaos suite's playbook as it was: 2-7 minute SLAs, named Chaos", () => {
    const p = chaosPlaybook();
    expect(p.name).toBe('Chaos');
    expect([...stageRules(p).values()].map((r) => r.targetMs)).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => chaosTargetMinutes(i) * MIN),
    );
    expect(chaosTargetMinutes(0)).toBe(2);
  });
});
