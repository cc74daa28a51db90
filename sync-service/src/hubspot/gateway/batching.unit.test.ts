import { describe, expect, it } from 'vitest';
import { HubSpotRequestError } from '../errors';
import { chunk, notFoundIds, throwIfReadRefused } from './batching';

describe('throwIfReadRefused', () => {
  const ids = ['1', '2'];

  it('leaves not-found ids to the caller (a deleted deal or task is an answer, not a failure)', () => {
    expect(() =>
      throwIfReadRefused(
        '9',
        'deals.batch.read',
        [{ category: 'OBJECT_NOT_FOUND', context: { ids: ['2'] } }],
        ids,
      ),
    ).not.toThrow();
    expect(() => throwIfReadRefused('9', 'deals.batch.read', undefined, ids)).not.toThrow();
  });

  it("fails the read on any other error about these ids, or naming none, but not on another read's", () => {
    const refused = (context?: Record<string, string[]>) => () =>
      throwIfReadRefused(
        '9',
        'deals.batch.read',
        [{ category: 'VALIDATION_ERROR', ...(context ? { context } : {}) }],
        ids,
      );
    expect(refused({ ids: ['2'] })).toThrow(HubSpotRequestError);
    expect(refused()).toThrow(/deals\.batch\.read/);
    expect(refused({ ids: ['77'] })).not.toThrow();
  });
});

describe('notFoundIds', () => {
  it('collects the ids of every OBJECT_NOT_FOUND error, and only those', () => {
    const errors = [
      { category: 'OBJECT_NOT_FOUND', context: { ids: ['1', '2'] } },
      { category: 'VALIDATION_ERROR', context: { ids: ['3'] } },
      { category: 'OBJECT_NOT_FOUND', context: { ids: ['4'] } },
      { category: 'OBJECT_NOT_FOUND' },
    ];
    expect([...notFoundIds(errors)]).toEqual(['1', '2', '4']);
    expect(notFoundIds(undefined).size).toBe(0);
  });
});

describe('chunk', () => {
  it('cuts into batches of 100', () => {
    expect(chunk(Array.from({ length: 230 }, (_, i) => i)).map((c) => c.length)).toEqual([100, 100, 30]);
  });
});
