import { describe, expect, it } from 'vitest';
import { P } from '../properties';
import { fixturePlaybook, HOUR, MON_10, rules, snap, withClocks, written } from './fixtures';
import { MERGED_IDS_PROPERTY } from './merges';
import { reconcile } from './reconcile';
import type { DealSnapshot, DealState } from './types';

// HubSpot's merge fills the survivor's blank properties from the merged deal (test/sandbox/objects.ts `merge`);
// these are the survivor's reconciles after it, with the merged id in `hs_merged_object_ids`.

/** "Needs info" without an SLA: a stage whose visit holds the SLA properties blank. */
const noSlaPlaybook = fixturePlaybook((p) => {
  const fix = p.pipelines[0]!.stages.find((s) => s.id === 'fix')!;
  delete fix.sla;
});
const merged = (ids: string, over: Partial<DealSnapshot> = {}) => {
  const base = snap(over);
  return { ...base, properties: { ...base.properties, [MERGED_IDS_PROPERTY]: ids } };
};
const first = (playbook = noSlaPlaybook, over: Partial<DealSnapshot> = {}): DealState =>
  reconcile({ playbook, state: null, snapshot: snap(over), now: MON_10 }).state!;

describe('a merge survivor (engine/merges.ts)', () => {
  it('clears the SLA and gate properties its own clock-less visit holds blank, once per merged id', () => {
    const state = first(noSlaPlaybook, { stage: 'fix' });
    expect(state.current?.sla ?? null).toBeNull();
    const r = reconcile({
      playbook: noSlaPlaybook,
      state,
      snapshot: merged('77', { stage: 'fix' }),
      now: MON_10 + HOUR,
    });
    expect(written(r)).toEqual({
      [P.slaStatus]: '',
      [P.slaDueAt]: '',
      [P.slaWarningAt]: '',
      [P.gateMissing]: '',
    });
    expect(r.state!.mergedIds).toEqual(['77']);
    expect(r.state!.trail?.at(-1)?.rule).toBe('deal.merged');
    // The same merge read again: nothing more.
    const again = reconcile({
      playbook: noSlaPlaybook,
      state: r.state,
      snapshot: merged('77', { stage: 'fix' }),
      now: MON_10 + 2 * HOUR,
    });
    expect(written(again)).toEqual({});
    expect(rules(again)).not.toContain('deal.merged');
    // A second merge is one more.
    const second = reconcile({
      playbook: noSlaPlaybook,
      state: r.state,
      snapshot: merged('77;78', { stage: 'fix' }),
      now: MON_10 + 2 * HOUR,
    });
    expect(second.state!.mergedIds).toEqual(['77', '78']);
    expect(written(second)[P.slaDueAt]).toBe('');
  });

  it('keeps the due and warning times of its own running clock', () => {
    const playbook = fixturePlaybook();
    const state = first(playbook);
    expect(state.current?.sla?.status).toBe('running');
    const r = reconcile({ playbook, state, snapshot: merged('77'), now: MON_10 + 1000 });
    expect(written(r)).toEqual({ [P.gateMissing]: '' });
  });

  it('keeps the status of a closed stage (it tells how the visit before ended) and clears its due times', () => {
    const playbook = fixturePlaybook();
    const state = first(playbook, { stage: 'won' });
    const r = reconcile({ playbook, state, snapshot: merged('77', { stage: 'won' }), now: MON_10 + HOUR });
    expect(written(r)).toEqual({ [P.slaDueAt]: '', [P.slaWarningAt]: '', [P.gateMissing]: '' });
  });

  it('keeps its own gate list while blocked', () => {
    const playbook = fixturePlaybook();
    const state: DealState = {
      ...first(playbook),
      gate: {
        status: 'blocked_reverted',
        missing: ['First call'],
        blockedFrom: 'lead',
        blockedTo: 'intake',
        pendingStage: 'lead',
        at: MON_10,
        blockedEnteredAt: MON_10 + 1,
        taskKey: null,
      },
    };
    const r = reconcile({ playbook, state, snapshot: merged('77'), now: MON_10 + 1000 });
    expect(written(r)).not.toHaveProperty(P.gateMissing);
  });

  it("continues its breach and backflow counters from the merged record's, never below its own", () => {
    const playbook = fixturePlaybook();
    const state = { ...first(playbook), breachCount: 1, backflowCount: 4 };
    const r = reconcile({
      playbook,
      state,
      snapshot: merged('77', {
        properties: { [P.breachCount]: '3', [P.backflowCount]: '2', [MERGED_IDS_PROPERTY]: '77' },
      }),
      now: MON_10 + 1000,
    });
    expect(r.state).toMatchObject({ breachCount: 3, backflowCount: 4 });
    // The counters are not adopted without a merge (a lost state's first read is freshState's business).
    const plain = reconcile({
      playbook,
      state,
      snapshot: snap({ properties: { [P.breachCount]: '3' } }),
      now: MON_10 + 1000,
    });
    expect(plain.state!.breachCount).toBe(1);
  });

  it('writes the survivor’s own event-clock summary over the merged deal’s', () => {
    const playbook = withClocks();
    const state = first(playbook);
    const r = reconcile({ playbook, state, snapshot: merged('77'), now: MON_10 + 1000 });
    expect(written(r)).toMatchObject({ [P.clocksOpen]: '', [P.clocksDueAt]: '' });
  });

  it('records, without clearing, the merges of a deal first seen already merged (its first visit writes all)', () => {
    const r = reconcile({
      playbook: noSlaPlaybook,
      state: null,
      snapshot: merged('77;78', { stage: 'fix' }),
      now: MON_10,
    });
    expect(r.state!.mergedIds).toEqual(['77', '78']);
    expect(rules(r)).not.toContain('deal.merged');
    expect(written(r)).toMatchObject({ [P.slaStatus]: '', [P.gateMissing]: '' });
  });
});
