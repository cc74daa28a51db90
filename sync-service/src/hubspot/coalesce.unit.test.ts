import { describe, expect, it } from 'vitest';
import { Coalescer, type Outcome } from './coalesce';

type Call = { lane: string; groups: string[][] };

/** A runner that records its calls and answers each request with its items joined, after `release()`. */
function recorder() {
  const calls: Call[] = [];
  const gates: Array<() => void> = [];
  const run = async (lane: string, groups: string[][]): Promise<Outcome<string>[]> => {
    calls.push({ lane, groups });
    await new Promise<void>((r) => gates.push(r));
    return groups.map((g) => ({ ok: true, value: g.join('+') }));
  };
  const releaseAll = async () => {
    while (gates.length) gates.shift()!();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { calls, run, releaseAll };
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('Coalescer', () => {
  it('requests made together share one call, and each gets its own answer', async () => {
    const rec = recorder();
    const c = new Coalescer(rec.run, undefined, { lingerMs: 1 });
    const answers = Promise.all([c.submit('p1', ['a']), c.submit('p1', ['b', 'c']), c.submit('p1', ['d'])]);
    await tick();
    await rec.releaseAll();
    expect(await answers).toEqual(['a', 'b+c', 'd']);
    expect(rec.calls).toEqual([{ lane: 'p1', groups: [['a'], ['b', 'c'], ['d']] }]);
  });

  it('by default a batch takes what the same turn of the event loop asked for, without a timer', async () => {
    const rec = recorder();
    const c = new Coalescer(rec.run, undefined);
    // Deals whose Redis replies came in one read: each continues in a microtask of the same turn.
    const first = Promise.all(['a', 'b', 'c'].map((x) => Promise.resolve().then(() => c.submit('p1', [x]))));
    // Nothing but an immediate stands between the requests and their call: it is out in this turn's check
    // phase, before any timer (a linger timer could only fire in a later turn). This immediate is set after the
    // submits (the microtasks ahead of it), so it runs after the coalescer's.
    await Promise.resolve().then(() => new Promise((r) => setImmediate(r)));
    expect(rec.calls).toEqual([{ lane: 'p1', groups: [['a'], ['b'], ['c']] }]);
    await rec.releaseAll();
    expect(await first).toEqual(['a', 'b', 'c']);
  });

  it('lanes never mix: another portal or endpoint is another call', async () => {
    const rec = recorder();
    const c = new Coalescer(rec.run, undefined, { lingerMs: 1 });
    const answers = Promise.all([c.submit('p1', ['a']), c.submit('p2', ['b'])]);
    await tick();
    await rec.releaseAll();
    await answers;
    expect(rec.calls.map((x) => x.lane).sort()).toEqual(['p1', 'p2']);
  });

  it('a batch holds at most maxItems; the rest go in the next call', async () => {
    const rec = recorder();
    const c = new Coalescer(rec.run, undefined, { maxItems: 3, maxInFlight: 1, lingerMs: 1 });
    const answers = Promise.all(['a', 'b', 'c', 'd', 'e'].map((x) => c.submit('p', [x])));
    await tick();
    expect(rec.calls).toHaveLength(1);
    expect(rec.calls[0]!.groups.flat()).toEqual(['a', 'b', 'c']);
    await rec.releaseAll();
    await tick();
    await rec.releaseAll();
    expect(await answers).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(rec.calls.map((x) => x.groups.flat())).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
  });

  it('while maxInFlight calls wait, new requests gather into the next one', async () => {
    const rec = recorder();
    const c = new Coalescer(rec.run, undefined, { maxInFlight: 1, lingerMs: 1 });
    const first = c.submit('p', ['a']);
    await tick();
    const later = Promise.all(['b', 'c', 'd'].map((x) => c.submit('p', [x])));
    await tick();
    expect(rec.calls).toHaveLength(1);
    await rec.releaseAll();
    await tick();
    await rec.releaseAll();
    await Promise.all([first, later]);
    expect(rec.calls.map((x) => x.groups.flat())).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('requests naming the same id never share a call (HubSpot refuses duplicate ids in a batch update)', async () => {
    const rec = recorder();
    const c = new Coalescer(rec.run, (x: string) => x.split(':')[0]!, { lingerMs: 1 });
    const answers = Promise.all([c.submit('p', ['7:a']), c.submit('p', ['8:b']), c.submit('p', ['7:c'])]);
    await tick();
    await rec.releaseAll();
    await tick();
    await rec.releaseAll();
    expect(await answers).toEqual(['7:a', '8:b', '7:c']);
    expect(rec.calls.map((x) => x.groups)).toEqual([[['7:a'], ['8:b']], [['7:c']]]);
  });

  it('a failed call fails every request in it; a per-request failure fails only that one', async () => {
    let mode: 'throw' | 'partial' = 'throw';
    const c = new Coalescer<string, string>(
      async (_lane, groups) => {
        if (mode === 'throw') throw new Error('503');
        return groups.map((g) =>
          g[0] === 'bad' ? { ok: false, error: new Error('400 for bad') } : { ok: true, value: g[0]! },
        );
      },
      undefined,
      { lingerMs: 1 },
    );
    const both = await Promise.allSettled([c.submit('p', ['x']), c.submit('p', ['y'])]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    mode = 'partial';
    const mixed = await Promise.allSettled([c.submit('p', ['bad']), c.submit('p', ['good'])]);
    expect(mixed[0]).toMatchObject({ status: 'rejected', reason: { message: '400 for bad' } });
    expect(mixed[1]).toEqual({ status: 'fulfilled', value: 'good' });
  });

  it('a full batch goes out at once instead of lingering', async () => {
    const rec = recorder();
    const c = new Coalescer(rec.run, undefined, { maxItems: 2, lingerMs: 60_000 });
    const answer = c.submit('p', ['a', 'b']);
    await tick(1);
    expect(rec.calls).toHaveLength(1);
    await rec.releaseAll();
    expect(await answer).toBe('a+b');
  });

  it('with an admission step, a batch is formed when its slot is granted: what queued during the wait rides along', async () => {
    const rec = recorder();
    const slots: Array<(ticket: string) => void> = [];
    const tickets: unknown[] = [];
    const c = new Coalescer<string, string, string>(
      (lane, groups, ticket) => {
        tickets.push(ticket);
        return rec.run(lane, groups);
      },
      undefined,
      { lingerMs: 1, admit: () => new Promise<string>((r) => slots.push(r)) },
    );
    const first = c.submit('p', ['a']);
    await tick();
    // The rate limiter has not granted a slot yet: nothing is sent, and later requests join the same batch.
    expect(rec.calls).toHaveLength(0);
    const later = ['b', 'c', 'd'].map((x) => c.submit('p', [x]));
    await tick();
    expect(slots).toHaveLength(1);
    slots.shift()!('slot-1');
    await tick();
    expect(rec.calls.map((x) => x.groups.flat())).toEqual([['a', 'b', 'c', 'd']]);
    expect(tickets).toEqual(['slot-1']);
    await rec.releaseAll();
    expect(await Promise.all([first, ...later])).toEqual(['a', 'b', 'c', 'd']);
  });

  it('with an admission step, one lane waits for one slot at a time, so two half batches never split a queue', async () => {
    const rec = recorder();
    const slots: Array<(ticket: string) => void> = [];
    const c = new Coalescer<string, string, string>((lane, groups) => rec.run(lane, groups), undefined, {
      maxItems: 3,
      maxInFlight: 2,
      lingerMs: 1,
      admit: () => new Promise<string>((r) => slots.push(r)),
    });
    const answers = Promise.all(['a', 'b', 'c', 'd', 'e'].map((x) => c.submit('p', [x])));
    await tick();
    expect(slots).toHaveLength(1);
    slots.shift()!('1');
    await tick();
    // The first call took a full batch; the rest wait for the next slot (asked for at once, up to maxInFlight).
    expect(rec.calls.map((x) => x.groups.flat())).toEqual([['a', 'b', 'c']]);
    expect(slots).toHaveLength(1);
    const f = c.submit('p', ['f']);
    slots.shift()!('2');
    await tick();
    expect(rec.calls.map((x) => x.groups.flat())).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e', 'f'],
    ]);
    await rec.releaseAll();
    expect(await Promise.all([answers, f])).toEqual([['a', 'b', 'c', 'd', 'e'], 'f']);
  });

  it('an admission that fails sends the batch without a ticket (the call then meets the limit itself)', async () => {
    const rec = recorder();
    const tickets: unknown[] = [];
    const c = new Coalescer<string, string, string>(
      (lane, groups, ticket) => {
        tickets.push(ticket);
        return rec.run(lane, groups);
      },
      undefined,
      { lingerMs: 1, admit: () => Promise.reject(new Error('daily quota spent')) },
    );
    const answer = c.submit('p', ['a']);
    await tick();
    await rec.releaseAll();
    expect(await answer).toBe('a');
    expect(tickets).toEqual([undefined]);
  });
});
