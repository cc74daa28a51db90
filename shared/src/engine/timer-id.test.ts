import { describe, expect, it } from 'vitest';
import { dealIdOfEntry, entryIdOf } from './stage-entry';
import { firingOfTimerId, timerId } from './timer-id';

describe('timer ids', () => {
  it('reads back the kind, entry and level each id was built from', () => {
    for (const entryId of [entryIdOf('900', 'appointmentscheduled', 1700000000000), '900:clock.reply:5']) {
      expect(firingOfTimerId(timerId(entryId, 'warning'))).toEqual({
        timerId: `${entryId}:warning`,
        kind: 'warning',
        entryId,
      });
      expect(firingOfTimerId(timerId(entryId, 'breach'))?.kind).toBe('breach');
      expect(firingOfTimerId(timerId(entryId, 'escalation', 12))).toEqual({
        timerId: `${entryId}:level:12`,
        kind: 'escalation',
        entryId,
        level: 12,
      });
      expect(dealIdOfEntry(entryId)).toBe('900');
    }
  });

  it('derives nothing from an id it does not spell', () => {
    expect(firingOfTimerId('custom-id')).toBeUndefined();
    expect(firingOfTimerId('900:new:1:level:x')).toBeUndefined();
    expect(dealIdOfEntry('no-deal')).toBe('');
    expect(dealIdOfEntry(':new:1')).toBe('');
  });
});
