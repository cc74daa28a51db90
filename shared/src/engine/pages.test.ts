import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseDuration } from '../playbook/duration';
import { Playbook, type PlaybookInput } from '../playbook/schema';
import { at, fixturePlaybook, HOUR, MON_10, only, snap } from './fixtures';
import { onTimer } from './on-timer';
import { levelPages, pageResolutions } from './pages';
import { reconcile } from './reconcile';
import type { DealSnapshot, TimerFiring } from './types';

const ID = `d1:lead:${MON_10}`;
const level = (i: number): TimerFiring => ({
  timerId: `${ID}:level:${i}`,
  kind: 'escalation',
  level: i,
  entryId: ID,
});
/** Patient-like values in every property the snapshot carries: none may reach a page. */
const PATIENT = {
  num_contacted_notes: '0',
  dealname: 'Jane Q. Patient',
  diagnosis: 'Type 2 diabetes',
  dob: '1961-04-12',
};
const base = snap({ properties: PATIENT });

function enterAndFire(playbook: Playbook, i: number, now: number, snapshot: DealSnapshot = base) {
  const entered = reconcile({ playbook, state: null, snapshot, now: MON_10 }).state!;
  return onTimer({ playbook, state: entered, snapshot, timer: level(i), now });
}

describe('escalation pages (issue 17)', () => {
  const playbook = fixturePlaybook();

  it('a level with a task for the lead pages the lead, besides (not instead of) the HubSpot task', () => {
    const r = enterAndFire(playbook, 0, MON_10 + 2 * HOUR);
    const [page] = only(r, 'page');
    expect(page).toMatchObject({
      key: `${ID}:level:0`,
      entryId: ID,
      channel: null,
      notBefore: MON_10 + 2 * HOUR, // Monday noon: the intake role is staffed
      facts: {
        dealId: 'd1',
        pipeline: { id: 'tele', label: 'Telehealth' },
        stage: { id: 'lead', label: 'Lead' },
        role: { id: 'intake', name: 'Intake' },
        leadOwnerId: '100',
        level: 1,
        atPct: 100,
        waitedMs: 2 * HOUR,
        slaMs: 2 * HOUR,
        basis: 'business',
        breached: true,
      },
    });
    expect(only(r, 'createTask').some((t) => t.kind === 'escalation' && t.ownerId === '100')).toBe(true);
    expect(r.state!.current!.sla!.paged).toEqual([0]);
  });

  it("carries the SLA calendar's time zone, so the page can say the due time in the team's clock", () => {
    expect(only(enterAndFire(playbook, 0, MON_10 + 2 * HOUR), 'page')[0]!.facts.timeZone).toBe(
      'America/New_York',
    );
    const berlin = fixturePlaybook((p) => {
      for (const c of p.calendars) c.timeZone = 'Europe/Berlin';
    });
    // 10:00 in New York is 16:00 in Berlin: the 2 staffed hours have run by Tuesday 12:00 there.
    expect(only(enterAndFire(berlin, 0, MON_10 + 20 * HOUR), 'page')[0]!.facts.timeZone).toBe(
      'Europe/Berlin',
    );
  });

  it('no page carries a property value (content rule)', () => {
    const r = enterAndFire(playbook, 0, MON_10 + 2 * HOUR);
    const text = JSON.stringify(only(r, 'page'));
    for (const value of Object.values(PATIENT).filter((v) => v !== '0')) expect(text).not.toContain(value);
  });

  it('a level with only owner notices does not page unless its page block asks', () => {
    const owners = fixturePlaybook((p) => {
      stageOf(p, 'lead').sla!.escalations = [{ at: 100, actions: [{ type: 'notifyOwner' as const }] }];
    });
    expect(only(enterAndFire(owners, 0, MON_10 + 2 * HOUR), 'page')).toEqual([]);
    const asked = fixturePlaybook((p) => {
      stageOf(p, 'lead').sla!.escalations = [
        { at: 100, actions: [{ type: 'notifyOwner' as const }], page: { channel: 'ops-teams' } },
      ];
    });
    expect(only(enterAndFire(asked, 0, MON_10 + 2 * HOUR), 'page')[0]).toMatchObject({
      channel: 'ops-teams',
    });
    const off = fixturePlaybook((p) => {
      stageOf(p, 'lead').sla!.escalations[0]!.page = { enabled: false };
    });
    const r = enterAndFire(off, 0, MON_10 + 2 * HOUR);
    expect(only(r, 'page')).toEqual([]);
    expect(only(r, 'createTask').some((t) => t.kind === 'escalation')).toBe(true);
  });

  describe('staffed hours', () => {
    // The intake role works evenings (18:00-22:00 New York); the SLA counts clinic hours and notices are not held.
    const evening = (page?: { now?: boolean }) =>
      fixturePlaybook((p) => {
        p.roles[0]!.calendar = 'evening';
        const sla = stageOf(p, 'lead').sla!;
        sla.noticesInStaffedHours = false;
        if (page) sla.escalations[0]!.page = page;
      });

    it('a page due while the role is off shift waits for its next staffed minute', () => {
      const [page] = only(enterAndFire(evening(), 0, MON_10 + 2 * HOUR), 'page');
      expect(page!.notBefore).toBe(at('2026-03-02T18:00:00-05:00'));
    });

    it('"page now" goes out at once, and its timer is not held either', () => {
      const pb = evening({ now: true });
      const [page] = only(enterAndFire(pb, 0, MON_10 + 2 * HOUR), 'page');
      expect(page!.notBefore).toBe(MON_10 + 2 * HOUR);
      const held = fixturePlaybook((p) => {
        p.roles[0]!.calendar = 'evening';
      });
      const timerAt = (b: Playbook) =>
        reconcile({
          playbook: b,
          state: null,
          snapshot: base,
          now: MON_10,
        }).state!.current!.sla!.timers!.find((t) => t.timerId === `${ID}:level:0`)!.fireAt;
      expect(timerAt(held)).toBe(at('2026-03-02T18:00:00-05:00'));
      const now = fixturePlaybook((p) => {
        p.roles[0]!.calendar = 'evening';
        stageOf(p, 'lead').sla!.escalations[0]!.page = { now: true };
      });
      expect(timerAt(now)).toBe(MON_10 + 2 * HOUR);
    });
  });

  describe('resolution', () => {
    const paged = enterAndFire(playbook, 0, MON_10 + 2 * HOUR).state!;

    it("leaving the stage resolves the visit's pages", () => {
      const moved = reconcile({
        playbook,
        state: paged,
        snapshot: snap({
          stage: 'intake',
          stageEnteredAt: MON_10 + 3 * HOUR,
          properties: { ...PATIENT, num_contacted_notes: '1', insurance_id: 'X' },
        }),
        now: MON_10 + 3 * HOUR,
      }).state;
      expect(pageResolutions(paged, moved)).toEqual([
        { type: 'resolvePage', key: `${ID}:level:0`, entryId: ID, why: 'stage_left' },
      ]);
      // Once resolved, the next decision has nothing left to resolve.
      expect(pageResolutions(moved, moved)).toEqual([]);
    });

    it('a deleted deal resolves as closed; a decision that keeps the visit resolves nothing', () => {
      const gone = reconcile({
        playbook,
        state: paged,
        snapshot: snap({ exists: false }),
        now: MON_10 + 3 * HOUR,
      }).state;
      expect(pageResolutions(paged, gone).map((c) => c.type === 'resolvePage' && c.why)).toEqual([
        'deal_closed',
      ]);
      const same = reconcile({ playbook, state: paged, snapshot: base, now: MON_10 + 3 * HOUR }).state;
      expect(pageResolutions(paged, same)).toEqual([]);
    });
  });
});

// Seed 000: "Intake Completed … Escalation: auto-page team lead at 3 hours" (SLA <= 4 business hours).
const file = fileURLToPath(new URL('../../playbooks/telehealth-intake.yaml', import.meta.url));
describe.runIf(existsSync(file))(
  'seed 000: the canonical playbook pages the lead at 3 hours on Intake Completed',
  () => {
    it('the Intake Completed level that fires at 3 hours pages (default channel: no playbook edit needed)', () => {
      const pb = Playbook.parse(parse(readFileSync(file, 'utf8')));
      const stage = pb.pipelines.flatMap((p) => p.stages).find((s) => s.label === 'Intake Completed')!;
      const target = parseDuration(stage.sla!.target)!;
      const atThree = stage.sla!.escalations.filter((l) => (l.at / 100) * target === 3 * HOUR);
      expect(atThree).toHaveLength(1);
      expect(levelPages(atThree[0]!)).toBe(true);
      expect(atThree[0]!.page?.channel).toBeUndefined();
    });
  },
);

function stageOf(p: PlaybookInput, id: string) {
  const stage = p.pipelines[0]!.stages.find((s) => s.id === id);
  if (!stage) throw new Error(`no stage ${id}`);
  if (!stage.sla?.escalations) throw new Error(`stage ${id} has no escalations`);
  return stage as typeof stage & {
    sla: NonNullable<typeof stage.sla> & {
      escalations: NonNullable<NonNullable<typeof stage.sla>['escalations']>;
    };
  };
}
