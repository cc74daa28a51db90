import { describe, expect, it } from 'vitest';
import { fixturePlaybook, HOUR, MON_10, snap } from './fixtures';
import { reconcile } from './reconcile';
import { requiredProperties } from './required-properties';

/** Seed 004: "Track referral source as a first-class object"; seed 002: segment by lead type and channel. */
describe('scorecard dimensions recorded on each visit', () => {
  const playbook = fixturePlaybook((p) => {
    p.scorecard = {
      dimensions: [
        { property: 'referrer_ods_code', label: 'Partner' },
        { property: 'lead_channel', label: 'Channel' },
      ],
    };
  });

  it('reads the declared properties and keeps their values at exit when they are short tokens, never free text', () => {
    expect(requiredProperties(playbook)).toEqual(
      expect.arrayContaining(['referrer_ods_code', 'lead_channel']),
    );
    const entered = reconcile({
      playbook,
      state: null,
      snapshot: snap({ properties: { num_contacted_notes: '1' } }),
      now: MON_10,
    }).state!;
    const moved = snap({
      stage: 'intake',
      stageEnteredAt: MON_10 + HOUR,
      properties: {
        num_contacted_notes: '1',
        insurance_id: 'x',
        referrer_ods_code: 'A81001',
        lead_channel: 'Dr Smith, Leeds',
      },
    });
    const r = reconcile({ playbook, state: entered, snapshot: moved, now: MON_10 + HOUR });
    const row = r.commands.find((c) => c.type === 'recordHistory');
    expect(row?.type === 'recordHistory' && row.row.dims).toEqual({ referrer_ods_code: 'A81001' });
  });
});
