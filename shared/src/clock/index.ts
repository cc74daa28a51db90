/**
 * Business-time clock: staffed time on a playbook calendar. Pure; all instants are epoch milliseconds.
 *
 * Semantics
 * - Hours are local wall-clock times in the calendar's `timeZone`, turned into real instants per date, so a
 *   01:00-05:00 shift is 3 real hours on a spring-forward night and 5 on a fall-back night. The server's zone
 *   and luxon's Settings.defaultZone are never consulted.
 * - A wall time that occurs twice (clocks going back) means its first occurrence. A wall time that does not
 *   exist (spring-forward gap) is read with the offset before the gap, i.e. moved forward by the gap's length
 *   (luxon's and Temporal's "compatible" rule): 02:30 on a US spring-forward night is 03:30 EDT. An interval
 *   whose end then falls before its start (e.g. 02:50-03:10 on that night) is empty that night.
 * - An interval whose end is at or before its start is an overnight shift: Mon 22:00-06:00 runs from Monday
 *   22:00 to Tuesday 06:00 (equal start and end: 24 hours). "24:00" is the following midnight.
 * - Holidays are whole local dates: every instant whose local date is a holiday is closed, including the
 *   after-midnight part of an overnight shift that began the day before. `holidaySet` dates come from
 *   date-holidays' local date strings filtered by `types`; a partial-day holiday closes the whole date.
 * - Open time is the union of the intervals, so adjacent or overlapping intervals (Mon 18:00-24:00 and Tue
 *   00:00-06:00) form one open stretch with no gap at midnight.
 * - "~2 years" (HORIZON_DAYS) bounds every search: nextOpen and addBusinessTime throw when no staffed time
 *   is found within it; nextClose returns Infinity when the open stretch outlasts it (e.g. 24/7, no holidays).
 */
export type { CompiledCalendar } from './compile';
export { compileCalendar } from './compile';
export {
  isOpen,
  nextOpen,
  nextClose,
  addBusinessTime,
  businessTimeBetween,
  BeyondHorizonError,
  HORIZON_DAYS,
} from './ops';
export { nextLocalMidnight } from './midnight';
export { weeklyStaffedMinutes, wallTable } from './weekly';
