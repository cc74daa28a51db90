/**
 * The demo's time: a clock that starts at the real time and runs `speed` times faster, so SLA targets written in
 * minutes and hours play out in seconds. The sandbox portal and the service read this same clock, which keeps
 * stage-entry stamps, SLA deadlines and webhook signature timestamps consistent with each other.
 */
export type ScaledClock = {
  now: () => number;
  speed: number;
  /** Demo instant the clock started at (the real time of the start). */
  origin: number;
  /** Demo milliseconds for a span of real milliseconds. */
  toDemo: (realMs: number) => number;
};

export function scaledClock(speed: number, realNow: () => number = Date.now): ScaledClock {
  return scaledClockAt(realNow(), speed, realNow);
}

/** The clock `scaledClock` made at `origin`: a worker thread (worker-thread.ts) keeps the main thread's time. */
export function scaledClockAt(origin: number, speed: number, realNow: () => number = Date.now): ScaledClock {
  if (!Number.isFinite(speed) || speed < 1)
    throw new Error(`demo speed must be a number >= 1 (got ${speed})`);
  return {
    now: () => Math.round(origin + (realNow() - origin) * speed),
    speed,
    origin,
    toDemo: (realMs) => realMs * speed,
  };
}
