import { describe, expect, it } from 'vitest';
import type { MapEntry } from '../objectmap';
import { cancelledByStagekeeper, cancelledProperties, extraCopies } from './task-copies';

const mapped = (id: string): MapEntry => ({ state: 'mapped', id, closed: false });

describe('extraCopies', () => {
  it('keeps the copy the task map names, even when it is not the oldest, and returns the others', () => {
    const marked = new Map([
      ['7:a:1:sla', ['101', '105', '109']],
      ['7:a:1:call', ['102']],
    ]);
    expect(extraCopies(marked, new Map([['7:a:1:sla', mapped('105')]]))).toEqual(['101', '109']);
  });

  it('keeps the oldest when the map names none of them (pending, unknown or another id)', () => {
    const marked = new Map([['7:a:1:sla', ['101', '105']]]);
    expect(extraCopies(marked, new Map())).toEqual(['105']);
    expect(extraCopies(marked, new Map([['7:a:1:sla', { state: 'pending', since: 1 }]]))).toEqual(['105']);
    expect(extraCopies(marked, new Map([['7:a:1:sla', mapped('999')]]))).toEqual(['105']);
  });
});

describe('cancelledProperties', () => {
  it('closes the task, prefixes its subject once and appends the reason', () => {
    const d = { status: 'NOT_STARTED', subject: 'Call', body: 'Body', at: 0 };
    expect(cancelledProperties(d, 'why')).toEqual({
      hs_task_status: 'COMPLETED',
      hs_task_subject: '[Cancelled] Call',
      hs_task_body: 'Body\n\nCancelled by Stagekeeper: why',
    });
    expect(cancelledProperties({ ...d, subject: '[Cancelled] Call' }, 'why').hs_task_subject).toBe(
      '[Cancelled] Call',
    );
  });
});

describe('cancelledByStagekeeper', () => {
  it("tells a task Stagekeeper cancelled from a rep's completed or an open one, by what the cancel wrote", () => {
    const d = { status: 'NOT_STARTED', subject: 'Call', body: 'Body', at: 0 };
    expect(cancelledByStagekeeper(cancelledProperties(d, 'why'))).toBe(true);
    expect(cancelledByStagekeeper({ hs_task_status: 'COMPLETED', hs_task_body: 'Body' })).toBe(false);
    expect(cancelledByStagekeeper({ ...cancelledProperties(d, 'why'), hs_task_status: 'NOT_STARTED' })).toBe(
      false,
    );
    expect(cancelledByStagekeeper({ hs_task_status: 'COMPLETED', hs_task_body: null })).toBe(false);
  });
});
