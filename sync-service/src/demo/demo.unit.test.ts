import { describe, expect, it } from 'vitest';
import { loadExamplePlaybook, P, validatePlaybook } from '@stagekeeper/shared';
import { SandboxPortal, seedFromPlaybook, type Change } from '@stagekeeper/test/sandbox/index';
import { scaledClock } from './clock';
import { demoSettings } from './index';
import { scorecardHint } from './quickstart';
import { demoCompatible, demoPlaybook, TELEHEALTH } from './playbook';
import { demoScenarios } from './script';
import { StoryTeller } from './story';

const canonical = loadExamplePlaybook('telehealth');

describe('demo clock', () => {
  it('starts at the real time and runs `speed` times faster', () => {
    let real = 1_000_000;
    const clock = scaledClock(60, () => real);
    expect(clock.now()).toBe(1_000_000);
    real += 15_000;
    expect(clock.now()).toBe(1_000_000 + 15 * 60_000);
    expect(() => scaledClock(0.5)).toThrow(/demo speed/);
  });
});

describe('demo settings', () => {
  it('is on at 60x by default, off with DEMO=false, and rejects a nonsense speed', () => {
    expect(demoSettings({})).toEqual({ enabled: true, speed: 60 });
    expect(demoSettings({ DEMO: 'false' })).toEqual({ enabled: false });
    expect(demoSettings({ DEMO: 'OFF' })).toEqual({ enabled: false });
    expect(demoSettings({ DEMO_SPEED: '120' })).toEqual({ enabled: true, speed: 120 });
    expect(() => demoSettings({ DEMO_SPEED: 'fast' })).toThrow(/DEMO_SPEED/);
  });

  it('refuses a DEMO value it cannot read, in one line naming the variable', () => {
    expect(demoSettings({ DEMO: 'true' })).toEqual({ enabled: true, speed: 60 });
    expect(() => demoSettings({ DEMO: 'fasle' })).toThrow(
      'invalid configuration: DEMO: expected true or false',
    );
    expect(() => demoSettings({ DEMO: 'fasle' })).not.toThrow(/\n/);
  });
});

describe('the console line naming the sandbox portal and its scorecard command', () => {
  const base = {
    redisUrl: 'redis://127.0.0.1:6379',
    redisSource: 'localhost' as const,
    keyPrefix: 'sk-sandbox',
    portalId: '12345',
  };
  it('is the bare command when the CLI finds the Redis and the sandbox prefix by itself', () => {
    expect(scorecardHint(base)).toBe(
      'Sandbox portal 12345. Its weekly scorecard from another terminal: npm run stagekeeper -- scorecard --portal 12345',
    );
  });
  it('names a spawned Redis and a custom prefix, and never prints a Redis password', () => {
    expect(
      scorecardHint({
        ...base,
        redisUrl: 'redis://127.0.0.1:40123',
        redisSource: 'spawned',
        keyPrefix: 'sk-sandbox-x',
      }),
    ).toBe(
      'Sandbox portal 12345. Its weekly scorecard from another terminal (while this runs: its redis-server stops with it): ' +
        'REDIS_URL=redis://127.0.0.1:40123 KEY_PREFIX=sk-sandbox-x npm run stagekeeper -- scorecard --portal 12345',
    );
    const hint = scorecardHint({
      ...base,
      redisUrl: 'redis://:s3cret@redis.internal:6380',
      redisSource: 'REDIS_URL',
    });
    expect(hint).toContain('REDIS_URL=redis://:****@redis.internal:6380 npm run');
    expect(hint).not.toContain('s3cret');
  });
});

describe('demo playbook', () => {
  it('opens every calendar around the clock, keeps targets and stays a valid playbook', () => {
    const demo = demoPlaybook(canonical);
    expect(validatePlaybook(demo).ok).toBe(true);
    expect(demo.calendars.every((c) => c.hours === '24/7' && c.holidays.length === 0 && !c.holidaySet)).toBe(
      true,
    );
    expect(demo.pipelines).toEqual(canonical.pipelines);
    // The loaded playbook is left as it was (main still reports it, the settings page may show it).
    expect(canonical.calendars.some((c) => c.hours !== '24/7')).toBe(true);
  });

  it('drives only a playbook with the canonical pipeline and stages', () => {
    expect(demoCompatible(canonical)).toBe(true);
    const other = structuredClone(canonical);
    other.pipelines[0]!.id = '999';
    expect(demoCompatible(other)).toBe(false);
  });

  it('scripts deals owned by the playbook role that owns the stage each starts in (seed 000 owner model)', () => {
    const stages = canonical.pipelines[0]!.stages;
    for (const s of demoScenarios(canonical)) {
      const stage = stages.find((x) => x.id === (s.stage ?? TELEHEALTH.stages.newLead))!;
      expect(canonical.roles.find((r) => r.id === stage.ownerRole)!.owners, s.name).toContain(s.ownerId);
    }
  });
});

describe('story lines', () => {
  const setup = () => {
    const portal = new SandboxPortal({ now: () => Date.parse('2026-11-23T14:00:00Z') });
    seedFromPlaybook(portal, canonical);
    const lines: string[] = [];
    const story = new StoryTeller(
      portal,
      canonical,
      (l) => lines.push(l),
      () => '[t]',
      portal.now,
    );
    const rep = { userId: 52841907 };
    const deal = portal.ui.createDeal(
      {
        dealname: 'Jane Patient',
        pipeline: TELEHEALTH.pipeline,
        dealstage: TELEHEALTH.stages.newLead,
        hubspot_owner_id: '52841907',
      },
      rep,
    );
    const api = { changeSource: 'API', sourceId: '1' };
    /** What the service's PATCH looks like in the change log: values set, one change per property. */
    const serviceWrites = (props: Record<string, string>) => {
      for (const [name, value] of Object.entries(props)) {
        deal.props.set(name, value);
        portal.changes.push({
          kind: 'propertyChange',
          objectType: 'deals',
          objectId: deal.id,
          occurredAt: portal.now(),
          source: api,
          propertyName: name,
          propertyValue: value,
        } as Change);
      }
    };
    return { portal, lines, story, deal, rep, serviceWrites };
  };

  it('tells a reverted move with what was missing, by labels, never with deal values', () => {
    const { portal, lines, story, deal, rep, serviceWrites } = setup();
    portal.ui.moveDeal(deal.id, TELEHEALTH.stages.contactAttempted, rep);
    serviceWrites({
      dealstage: TELEHEALTH.stages.newLead,
      [P.gateStatus]: 'blocked_reverted',
      [P.gateMissing]: 'First contact attempt logged',
    });
    story.poll();
    expect(lines).toEqual([
      `[t] deal ${deal.id} · New Lead · service moved the deal to New Lead`,
      `[t] deal ${deal.id} · New Lead · gate blocked the move to Contact Attempted, reverting the move; missing: First contact attempt logged`,
    ]);
    expect(story.counts.gateBlocks).toBe(1);
    expect(lines.join('\n')).not.toContain('Jane');
  });

  it('tells warnings, breaches, escalation levels and hand-overs, and counts them', () => {
    const { lines, story, deal, serviceWrites } = setup();
    serviceWrites({ [P.slaStatus]: 'warning' });
    serviceWrites({ [P.slaStatus]: 'breached', [P.breachReason]: 'other', [P.escalationLevel]: '1' });
    serviceWrites({ hubspot_owner_id: '52841901', [P.escalationLevel]: '2' });
    story.poll();
    expect(lines).toEqual([
      `[t] deal ${deal.id} · New Lead · SLA warning: 75% of the stage's time is used; the owner is warned`,
      `[t] deal ${deal.id} · New Lead · SLA breached: the deal is still here after its target; breach reason inferred: other`,
      `[t] deal ${deal.id} · New Lead · escalation level 1 at 100% of the SLA: task for the Growth Ops lead`,
      `[t] deal ${deal.id} · New Lead · service reassigned the deal to owner 52841901 (lead of Growth Ops)`,
      `[t] deal ${deal.id} · New Lead · escalation level 2 at 200% of the SLA: deal handed to the Growth Ops lead`,
    ]);
    expect(story.counts).toMatchObject({
      deals: 1,
      warnings: 1,
      breaches: 1,
      escalations: 2,
      reassignments: 1,
    });
  });

  it('tells a deal handed to a member of the role accountable for its new stage (assignment policy)', () => {
    const { lines, story, deal, serviceWrites } = setup();
    const intake = canonical.roles.find((r) => r.id === 'intake_ops')!;
    serviceWrites({ hubspot_owner_id: intake.owners[0]! });
    story.poll();
    expect(lines).toEqual([
      `[t] deal ${deal.id} · New Lead · service reassigned the deal to owner ${intake.owners[0]} (${intake.name}, accountable for the new stage)`,
    ]);
  });

  it('says nothing about what reps type in', () => {
    const { portal, lines, story, deal, rep } = setup();
    portal.ui.setProperties(deal.id, { dealname: 'Jane Patient (callback)' }, rep);
    story.poll();
    expect(lines).toEqual([]);
  });
});
