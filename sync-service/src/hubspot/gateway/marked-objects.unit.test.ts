import { describe, expect, it } from 'vitest';
import { markedKeys, marker } from './marked-objects';

describe('marker', () => {
  it('is one bracketed token per key', () => {
    expect(marker('40000000001:sk_intake:1772460000000:action:call')).toBe(
      '[stagekeeper:40000000001:sk_intake:1772460000000:action:call]',
    );
  });
});

describe('markedKeys', () => {
  it('reads back every key a body carries, whatever text surrounds it', () => {
    const body = `Call the patient.\n\n${marker('7:sk_intake:1:sla')}\nsee [stagekeeper:] and ${marker('7:x')}`;
    expect(markedKeys(body)).toEqual(['7:sk_intake:1:sla', '7:x']);
    expect(markedKeys('no marker here')).toEqual([]);
  });
});
