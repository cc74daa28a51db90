import { describe, expect, it } from 'vitest';
import { Playbook } from '../playbook/schema';
import { loadExamplePlaybook } from '../playbook/load-file';
import { computeScorecard } from './compute';
import { scorecardPlaybook, visit } from './fixtures';
import { computeFunnel, RE_REFERRAL_WINDOW_MS } from './funnel';
import { formatScorecard } from './format';
import { weekRange } from './week';

const H = 3600_000;
const DAY = 24 * H;
const WEEK = '2026-W47';
const { start, end } = weekRange(WEEK, 'America/New_York');

/** The scorecard fixture with an intake funnel: s1 receives, s2 means incomplete, s3 booked; partner in `referrer`. */
const playbook = Playbook.parse({
  ...scorecardPlaybook(),
  scorecard: {
    dimensions: [{ property: 'referrer', label: 'Referring partner' }],
    funnel: { received: 's1', incomplete: ['s2'], booked: ['s3'], partner: 'referrer' },
  },
});

describe('intake funnel (seeds 003 and 004)', () => {
  it('003 contact rate and 004 first-touch time and incomplete-referral rate, over received visits that ended in the week', () => {
    const rows = [
      // Contacted after 10 min, complete: straight to s3 (a forward skip).
      visit({
        stage: 's1',
        enteredAt: start + H,
        exitedAt: start + H + 10 * 60_000,
        toStage: 's3',
        direction: 'forward',
      }),
      // Contacted after 30 min, incomplete: into clarification (s2).
      visit({
        stage: 's1',
        enteredAt: start + H,
        exitedAt: start + H + 30 * 60_000,
        toStage: 's2',
        direction: 'forward',
      }),
      // Never contacted: closed lost from the received stage.
      visit({
        stage: 's1',
        enteredAt: start + H,
        exitedAt: start + 5 * H,
        toStage: 's5',
        direction: 'forward',
        closureReason: 'no_response',
      }),
      // Ended before the week: not counted.
      visit({
        stage: 's1',
        enteredAt: start - 3 * H,
        exitedAt: start - H,
        toStage: 's2',
        direction: 'forward',
      }),
    ];
    const f = computeFunnel(playbook, rows, start, end, end)!;
    expect(f).toMatchObject({
      receivedStage: { id: 's1', label: 'New referral' },
      received: 3,
      contacted: 2,
      contactRate: 2 / 3,
      firstTouchMedianMs: 20 * 60_000,
      firstTouchP90Ms: 30 * 60_000,
      incomplete: 1,
      incompleteRate: 1 / 3,
    });
  });

  it('003 appointments booked counts moves into a booked stage; closure reasons group by closed stage and recorded reason', () => {
    const rows = [
      visit({ stage: 's2', exitedAt: start + H, toStage: 's3' }),
      visit({ stage: 's1', exitedAt: start + 2 * H, toStage: 's3' }),
      visit({ stage: 's2', exitedAt: start - H, toStage: 's3' }), // last week
      visit({ stage: 's3', exitedAt: start + 3 * H, toStage: 's5', closureReason: 'not_a_fit' }),
      visit({ stage: 's3', exitedAt: start + 4 * H, toStage: 's5', closureReason: 'not_a_fit' }),
      visit({ stage: 's2', exitedAt: start + 5 * H, toStage: 's5' }),
      visit({ stage: 's3', exitedAt: start + 6 * H, toStage: 's4' }),
    ];
    const f = computeFunnel(playbook, rows, start, end, end)!;
    expect(f.appointmentsBooked).toBe(2);
    expect(f.closureReasons).toEqual([
      { stage: { id: 's5', label: 'Not qualified' }, reason: 'not_a_fit', count: 2 },
      { stage: { id: 's4', label: 'Active care' }, reason: null, count: 1 },
      { stage: { id: 's5', label: 'Not qualified' }, reason: null, count: 1 },
    ]);
  });

  it('004 re-referral: the same partner refers again within 30 days; the window decides, later referrals stay pending', () => {
    const received = (dealId: string, at: number, partner?: string) =>
      visit({
        dealId,
        stage: 's1',
        enteredAt: at,
        exitedAt: at + 60_000,
        ...(partner ? { dims: { referrer: partner } } : {}),
      });
    const rows = [
      received('a1', start + DAY, 'A'),
      received('a2', start + DAY + 29 * DAY, 'A'), // A again within 30 days: a1 re-referred
      received('b1', start + 2 * DAY, 'B'),
      received('b2', start + 2 * DAY + 31 * DAY, 'B'), // 31 days later: b1 not re-referred
      received('c1', start + 3 * DAY, 'C'), // no second referral, window still open at `now`: pending
      received('x1', start + 3 * DAY), // no partner recorded
      received('a0', start - 10 * DAY, 'A'), // before the week: not in the cohort
    ];
    const now = start + 2 * DAY + RE_REFERRAL_WINDOW_MS + H; // a1's and b1's windows are over, c1's is not
    const f = computeFunnel(playbook, rows, start, end, now)!;
    expect(f.reReferral).toEqual({
      property: 'referrer',
      referrals: 4,
      decided: 2,
      reReferred: 1,
      rate: 0.5,
      pending: 1,
      noPartner: 1,
      partners: 3,
      partnersReferringAgain: 1,
    });
    // Once c1's 30 days are over without another referral from C, it is decided as not re-referred.
    expect(
      computeFunnel(playbook, rows, start, end, start + 3 * DAY + RE_REFERRAL_WINDOW_MS)!.reReferral,
    ).toMatchObject({ decided: 3, rate: 1 / 3, pending: 0 });
  });

  it('is absent without a declared funnel, and shown in the CLI table and CSV with one', () => {
    expect(
      computeScorecard({ playbook: scorecardPlaybook(), week: WEEK, rows: [visit({ exitedAt: start + H })] })
        .funnel,
    ).toBeUndefined();
    const card = computeScorecard({
      playbook,
      week: WEEK,
      rows: [visit({ stage: 's1', exitedAt: start + H, toStage: 's3' })],
    });
    expect(card.funnel?.received).toBe(1);
    const text = formatScorecard(card, 'table');
    expect(text).toContain('Intake funnel (New referral)');
    expect(text).toMatch(/Contact rate\s+100\.0%/);
    const csv = formatScorecard(card, 'csv').split('\r\n');
    const row = csv.find(
      (l) => l.startsWith('2026-W47,funnel,,,s1,New referral,') && l.endsWith(',contact_rate,1'),
    );
    expect(row?.split(',')).toHaveLength(csv[0]!.split(',').length);
  });

  it('rejects a funnel naming an unknown stage or a partner that is not a declared dimension', () => {
    const bad = {
      ...scorecardPlaybook(),
      scorecard: { dimensions: [], funnel: { received: 'nope', partner: 'referrer' } },
    };
    const r = Playbook.safeParse(bad);
    expect(r.success).toBe(false);
    const messages = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toContain('scorecard.funnel.received: unknown stage "nope"');
    expect(messages).toContain(
      'scorecard.funnel.partner: "referrer" must be one of scorecard.dimensions: visits record only those',
    );
  });

  it('the referral and intake playbooks declare their funnels (004 partner re-referral, 003 contact and booking)', () => {
    const referrals = loadExamplePlaybook('referrals').scorecard?.funnel;
    expect(referrals).toEqual({
      received: '1290330101',
      incomplete: ['1290330102'],
      booked: ['1290330104'],
      partner: 'referrer_ods_code',
    });
    const intake = loadExamplePlaybook('telehealth').scorecard?.funnel;
    expect(intake?.received).toBe('1180512201');
  });
});
