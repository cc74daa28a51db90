/**
 * Shares HubSpot batch calls between deals. Each deal's job asks for its own few items (its deal, its tasks);
 * requests for the same endpoint that are waiting at the same moment go out as one batch of up to 100 inputs.
 * Under a bulk move the rate limit is what paces the calls, so a batch is formed only once its call has a rate
 * slot (`admit`): everything that queued while the slot was awaited rides along, and the number of calls follows
 * the rate limit, not the number of deals. Formed before the wait (as it once was), a batch held only what had
 * queued within the linger, and the deals arriving during its wait went into the next, equally half-full, one.
 */

import { callLane } from './call';

export type CoalesceOptions = {
  /** HubSpot batch endpoints take at most 100 inputs. */
  maxItems?: number;
  /** Calls per lane (portal + endpoint) at once; later requests wait and join the next batch. */
  maxInFlight?: number;
  /**
   * How long the first request of a new batch waits for others to join. 0 (the default): until the event loop
   * has run what this turn of it brought (deals whose Redis replies came in one read ask in the same turn), with
   * no timer. A timer of even 2 ms put the thread to sleep and woke it once per call, and a wake is dear (tens to
   * hundreds of µs of CPU on a virtual machine): the cost bench's steady traffic took 3.4-3.5 wakes of the
   * workers' thread a move with 2 ms and 2.2-2.5 with none, the same 0.81 calls a move. Under a bulk move the rate slot's wait is
   * what fills a batch (see the class), not the linger.
   */
  lingerMs?: number;
  /**
   * Waits until a call of this lane may go out (a rate-limiter slot) and resolves with a ticket handed to the
   * runner; the batch is taken from the queue only then. One admission per lane is awaited at a time, so a
   * queue is never split between two calls that were admitted together. A rejected admission sends the batch
   * without a ticket (its call then meets the limit, or the daily block, on its own).
   */
  admit?: (lane: string) => Promise<unknown>;
};

/** What the runner hands back for one request: its share of the combined answer, or its own failure. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Runs one combined call for the requests of a lane (`groups[i]` are the items of request i) and answers each
 * request. It may fall back to separate calls (e.g. when one bad input makes HubSpot refuse the whole batch).
 */
export type BatchRunner<I, R, T = unknown> = (
  lane: string,
  groups: I[][],
  ticket?: T,
) => Promise<Outcome<R>[]>;

type Request<I, R> = { items: I[]; ids: string[]; resolve: (r: R) => void; reject: (e: unknown) => void };
type Lane<I, R> = {
  waiting: Request<I, R>[];
  inFlight: number;
  admitting: boolean;
  timer?: NodeJS.Timeout | NodeJS.Immediate;
};

export class Coalescer<I, R, T = unknown> {
  private readonly lanes = new Map<string, Lane<I, R>>();
  private readonly maxItems: number;
  private readonly maxInFlight: number;
  private readonly lingerMs: number;
  private readonly admit: ((lane: string) => Promise<T>) | undefined;

  /**
   * @param identity the id HubSpot refuses to see twice in one batch (batch updates: "Duplicate IDs"), or
   * undefined where repeats are harmless. Requests naming the same id never share a call.
   */
  constructor(
    private readonly run: BatchRunner<I, R, T>,
    private readonly identity: ((item: I) => string) | undefined,
    opts: CoalesceOptions = {},
  ) {
    this.maxItems = opts.maxItems ?? 100;
    this.maxInFlight = opts.maxInFlight ?? 2;
    this.lingerMs = opts.lingerMs ?? 0;
    this.admit = opts.admit as ((lane: string) => Promise<T>) | undefined;
  }

  submit(lane: string, items: I[]): Promise<R> {
    // A person is waiting (the deal card): its call goes out at once, alone, in the limiter's interactive lane,
    // instead of queueing behind bulk batches that wait on the rate limit.
    if (callLane.getStore() === 'interactive')
      return this.run(lane, [items]).then(([o]) => {
        if (!o) throw new Error(`coalesced ${lane}: no answer`);
        if (!o.ok) throw o.error;
        return o.value;
      });
    return new Promise<R>((resolve, reject) => {
      const l = this.lane(lane);
      l.waiting.push({ items, ids: this.identity ? items.map(this.identity) : [], resolve, reject });
      const queued = l.waiting.reduce((n, r) => n + r.items.length, 0);
      if (queued >= this.maxItems) this.pump(lane);
      else if (!l.timer) {
        const fire = () => {
          l.timer = undefined;
          this.pump(lane);
        };
        l.timer = this.lingerMs > 0 ? setTimeout(fire, this.lingerMs) : setImmediate(fire);
      }
    });
  }

  private lane(name: string): Lane<I, R> {
    let l = this.lanes.get(name);
    if (!l) this.lanes.set(name, (l = { waiting: [], inFlight: 0, admitting: false }));
    return l;
  }

  private pump(name: string): void {
    const l = this.lanes.get(name);
    if (!l) return;
    if (this.admit) {
      if (l.admitting || l.inFlight >= this.maxInFlight || l.waiting.length === 0) return;
      l.admitting = true;
      const admitted = (ticket?: T) => {
        l.admitting = false;
        // Requests only leave the queue here, so the one that asked for this slot is still waiting.
        this.send(name, l, this.take(l), ticket);
        this.pump(name);
      };
      this.admit(name).then(admitted, () => admitted());
      return;
    }
    while (l.inFlight < this.maxInFlight && l.waiting.length > 0) this.send(name, l, this.take(l));
  }

  private send(name: string, l: Lane<I, R>, batch: Request<I, R>[], ticket?: T): void {
    l.inFlight++;
    void this.execute(name, batch, ticket).finally(() => {
      l.inFlight--;
      // Whatever queued while this call waited has lingered long enough.
      if (l.waiting.length > 0) this.pump(name);
      else if (l.inFlight === 0 && !l.admitting && !l.timer) this.lanes.delete(name);
    });
  }

  /** First come first served, up to maxItems, skipping requests that repeat an id already in the batch. */
  private take(l: Lane<I, R>): Request<I, R>[] {
    const batch: Request<I, R>[] = [];
    const ids = new Set<string>();
    let size = 0;
    const rest: Request<I, R>[] = [];
    for (const r of l.waiting) {
      const fits = batch.length === 0 || size + r.items.length <= this.maxItems;
      if (fits && !r.ids.some((id) => ids.has(id))) {
        batch.push(r);
        size += r.items.length;
        r.ids.forEach((id) => ids.add(id));
      } else rest.push(r);
    }
    l.waiting = rest;
    return batch;
  }

  private async execute(lane: string, batch: Request<I, R>[], ticket?: T): Promise<void> {
    let outcomes: Outcome<R>[];
    try {
      outcomes = await this.run(
        lane,
        batch.map((r) => r.items),
        ticket,
      );
    } catch (error) {
      for (const r of batch) r.reject(error);
      return;
    }
    batch.forEach((r, i) => {
      const o = outcomes[i];
      if (!o) r.reject(new Error(`coalesced ${lane}: no answer for request ${i}`));
      else if (o.ok) r.resolve(o.value);
      else r.reject(o.error);
    });
  }
}
