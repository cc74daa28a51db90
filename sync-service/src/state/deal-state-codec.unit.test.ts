import { describe, expect, it } from 'vitest';
import { blankState } from '../testing/fakes';
import { typicalDealState } from '../testing/typical-deal-state';
import { decodeDealRecord, decodeDealState, encodeDealState } from './deal-state-codec';

describe('deal state codec', () => {
  it('round-trips states to the same JSON', () => {
    for (const state of [typicalDealState(), typicalDealState('7'), blankState('12', 3)]) {
      const json = JSON.stringify(state);
      expect(decodeDealState(encodeDealState(json))).toBe(json);
    }
  });

  it('reads the first shape, plain JSON, as it was stored', () => {
    const json = JSON.stringify(typicalDealState());
    expect(decodeDealState(Buffer.from(json))).toBe(json);
  });

  it('refuses bytes of neither shape', () => {
    expect(() => decodeDealState(Buffer.from('x{}'))).toThrow(/encoding/);
    expect(() => decodeDealState(Buffer.from('1 not deflate'))).toThrow();
  });

  it('stores a typical state in under a quarter of its JSON', () => {
    const json = JSON.stringify(typicalDealState());
    expect(json.length).toBeGreaterThan(1_300);
    expect(encodeDealState(json).length).toBeLessThan(json.length / 4);
  });

  it('splits a stored record into its version and body', () => {
    const body = encodeDealState(JSON.stringify(typicalDealState()));
    const record = decodeDealRecord(Buffer.concat([Buffer.from('12:'), body]));
    expect(record?.version).toBe(12);
    expect(record?.body.equals(body)).toBe(true);
    expect(decodeDealRecord(Buffer.from('3:'))).toEqual({ version: 3, body: Buffer.alloc(0) });
    for (const bad of ['', ':1', 'x:1', '1', '{"dealId":"1"}', `${'9'.repeat(17)}:`])
      expect(decodeDealRecord(Buffer.from(bad))).toBeNull();
  });
});
