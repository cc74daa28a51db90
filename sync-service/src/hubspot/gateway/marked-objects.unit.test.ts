import { describe, expect, it } from 'vitest';
import { marker } from './marked-objects';

describe('marker', () => {
  it('is one bracketed token per key', () => {
    expect(marker('40000000001:sk_intake:1772460000000:action:call')).toBe(
      '[stagekeeper:40000000001:sk_intake:1772460000000:action:call]',
    );
  });
});
