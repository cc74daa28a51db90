/** A clock tests can drive; the portal reads time only through `now`. */
export type ManualClock = { now: () => number; advance: (ms: number) => number; set: (ms: number) => void };

export function manualClock(start = Date.parse('2026-03-02T14:00:00Z')): ManualClock {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => (t += ms),
    set: (ms) => {
      t = ms;
    },
  };
}
