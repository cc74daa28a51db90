/**
 * Test-only brute-force reference for the clock. It shares nothing with the implementation but luxon's zone
 * data: every UTC minute in a window is decided on its own from its local wall time.
 *
 * Rule being checked, minute by minute: a minute is open when its local date is not a holiday and it lies
 * inside some interval of its local date or of the day before (overnight), where an interval's wall-clock
 * ends are pinned to instants as the clock documents: the first occurrence of a repeated wall time, and for a
 * wall time skipped by a spring-forward gap, the last minute before the gap plus the missing distance.
 */
import { IANAZone } from 'luxon';
import type { Calendar } from '../playbook/schema';

const MIN = 60_000;
const DAY_MIN = 1440;
const MARGIN_MIN = 3 * DAY_MIN;
const MAX_OFFSET_MIN = 15 * 60;
const JS_DAY_KEYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

function hhmm(s: string): number {
  return Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
}

export class MinuteOracle {
  /** Open flag of each minute in [lo, hi). */
  private readonly open: Uint8Array;
  /** Epoch minute at which each wall-clock minute (indexed from wallBase) is first shown; NaN if never. */
  private readonly firstSeen: Float64Array;
  private readonly wallBase: number;
  private readonly dayCache = new Map<number, [number, number][]>();

  constructor(
    private readonly cal: Calendar,
    readonly lo: number,
    readonly hi: number,
  ) {
    if (lo % MIN !== 0 || hi % MIN !== 0) throw new Error('oracle windows are minute aligned');
    const first = lo / MIN - MARGIN_MIN;
    const last = hi / MIN + MARGIN_MIN;
    const offsets = offsetsByMinute(IANAZone.create(cal.timeZone), first, last);

    this.wallBase = first - MAX_OFFSET_MIN;
    this.firstSeen = new Float64Array(last - first + 2 * MAX_OFFSET_MIN).fill(NaN);
    for (let m = first; m < last; m++) {
      const slot = m + offsets[m - first]! - this.wallBase;
      if (Number.isNaN(this.firstSeen[slot])) this.firstSeen[slot] = m;
    }

    const holidays = new Set(cal.holidays.map((h) => (typeof h === 'string' ? h : h.date)));
    const count = (hi - lo) / MIN;
    this.open = new Uint8Array(count);
    let day = NaN;
    let closedAllDay = false;
    let intervals: [number, number][] = [];
    for (let i = 0; i < count; i++) {
      const m = lo / MIN + i;
      const localDay = Math.floor((m + offsets[m - first]!) / DAY_MIN);
      if (localDay !== day) {
        day = localDay;
        closedAllDay = holidays.has(new Date(localDay * DAY_MIN * MIN).toISOString().slice(0, 10));
        intervals = this.intervalsOf(localDay);
      }
      if (closedAllDay) continue;
      for (const [s, e] of intervals) if (s <= m && m < e) this.open[i] = 1;
    }
  }

  /** Instant intervals (in epoch minutes) that can contain minutes of `localDay`: its own and the previous day's. */
  private intervalsOf(localDay: number): [number, number][] {
    let out = this.dayCache.get(localDay);
    if (out) return out;
    out = [];
    for (const day of [localDay - 1, localDay]) {
      const key = JS_DAY_KEYS[new Date(day * DAY_MIN * MIN).getUTCDay()]!;
      const list = this.cal.hours === '24/7' ? [{ start: '00:00', end: '24:00' }] : this.cal.hours[key];
      for (const { start, end } of list) {
        const s = hhmm(start);
        let e = hhmm(end);
        if (e <= s) e += DAY_MIN;
        out.push([this.pin(day * DAY_MIN + s), this.pin(day * DAY_MIN + e)]);
      }
    }
    this.dayCache.set(localDay, out);
    return out;
  }

  /** The epoch minute at which the wall clock shows `wall`. */
  private pin(wall: number): number {
    for (let back = 0; back <= 180; back++) {
      const seen = this.firstSeen[wall - back - this.wallBase];
      if (seen !== undefined && !Number.isNaN(seen)) return seen + back;
    }
    throw new Error(`oracle: wall minute ${wall} not near the window`);
  }

  private index(at: number): number {
    if (at % MIN !== 0 || at < this.lo || at >= this.hi)
      throw new Error('oracle: instant outside its window');
    return (at - this.lo) / MIN;
  }

  isOpen(at: number): boolean {
    return this.open[this.index(at)] === 1;
  }

  businessTimeBetween(from: number, to: number): number {
    let n = 0;
    for (let t = from; t < to; t += MIN) n += this.open[this.index(t)]!;
    return n * MIN;
  }

  /** Undefined when the window ends first. */
  addBusinessTime(start: number, minutes: number): number | undefined {
    if (minutes === 0) return start;
    let counted = 0;
    for (let t = start; t < this.hi; t += MIN) {
      if (this.isOpen(t) && ++counted === minutes) return t + MIN;
    }
    return undefined;
  }

  nextOpen(at: number): number | undefined {
    for (let t = at; t < this.hi; t += MIN) if (this.isOpen(t)) return t;
    return undefined;
  }

  nextClose(at: number): number | undefined {
    const open = this.nextOpen(at);
    if (open === undefined) return undefined;
    for (let t = open; t < this.hi; t += MIN) if (!this.isOpen(t)) return t;
    return undefined;
  }
}

/**
 * UTC offset (minutes) of every epoch minute in [first, last). Offsets in the tested zones only change on a UTC
 * quarter hour, so the zone is asked once an hour and again per quarter hour only inside hours where it changed.
 */
function offsetsByMinute(zone: IANAZone, first: number, last: number): Int16Array {
  const out = new Int16Array(last - first);
  const ask = (m: number) => zone.offset(m * MIN);
  for (let hour = Math.floor(first / 60) * 60; hour < last; hour += 60) {
    const a = ask(hour);
    const changes = ask(hour + 60) !== a;
    for (let q = 0; q < 60; q += 15) {
      const offset = changes ? ask(hour + q) : a;
      for (let m = Math.max(hour + q, first); m < Math.min(hour + q + 15, last); m++) out[m - first] = offset;
    }
  }
  return out;
}
