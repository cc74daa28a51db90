import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sameData } from './same-data';

/** JSON with every object's keys sorted: what sameData must agree with. */
function canonical(v: unknown): string | undefined {
  return JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(
          Object.entries(val as Record<string, unknown>).sort(([p], [q]) => (p < q ? -1 : 1)),
        )
      : val,
  );
}

// Plain data as the engine's state and commands hold it, undefined included, from a small alphabet so that equal
// and nearly equal pairs come up often.
const { data } = fc.letrec((tie) => ({
  data: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, undefined, 0, 1, -0, NaN, Infinity, '', 'a', 'b', true, false),
    fc.array(tie('data'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('data'), { maxKeys: 3 }),
  ),
}));

describe('sameData: equality as JSON sees it, without serialising', () => {
  it('agrees with comparing canonical JSON, for objects and arrays', () => {
    const container = fc.oneof(
      fc.array(data, { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('a', 'b', 'c'), data),
    );
    fc.assert(
      fc.property(container, container, (a, b) => {
        expect(sameData(a, b)).toBe(canonical(a) === canonical(b));
      }),
      { numRuns: 2_000 },
    );
  });

  it('agrees on a value and a structured copy of it with keys reordered and undefined keys dropped', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), data), (a) => {
        const copy = JSON.parse(canonical(a)!) as unknown;
        expect(sameData(a, copy)).toBe(true);
        expect(sameData(copy, a)).toBe(true);
      }),
    );
  });

  it('tells apart what JSON tells apart', () => {
    expect(sameData({ a: 1 }, { a: '1' })).toBe(false);
    expect(sameData({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(sameData([1, 2], [2, 1])).toBe(false);
    expect(sameData({ a: [] }, { a: {} })).toBe(false);
    expect(sameData({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    // A key holding undefined is left out, one holding null is printed: fast-check's counterexample (seed
    // -290255387) was {"c":null,"a":[]} against {"b":null,"c":undefined,"a":[]}.
    expect(sameData({ c: null }, { c: undefined })).toBe(false);
    expect(sameData({ c: undefined }, { c: null })).toBe(false);
    expect(sameData({ c: null, a: [] }, { b: null, c: undefined, a: [] })).toBe(false);
    expect(sameData([undefined], [null])).toBe(true);
  });
});
