import { sameData } from './same-data';
import type { Command, DealSnapshot, EngineResult } from './types';

/**
 * Whether a decision made with the snapshot's unread tasks taken as open could change if a rep had completed some
 * of them. Reading task statuses costs a HubSpot call on every transition, yet most decisions do not depend on
 * them: leaving a stage closes its tasks whatever their status, and closing a task a rep already completed
 * changes nothing. The decision is made again with each unread task completed, and with all of them completed;
 * if each comes out the same (state and commands, except closing those very tasks), the first decision stands.
 */
export function dependsOnUnreadTasks(
  decide: (snapshot: DealSnapshot) => EngineResult,
  snapshot: DealSnapshot,
  decided: EngineResult,
): boolean {
  const unread = snapshot.unreadTasks ?? [];
  if (unread.length === 0) return false;
  const variants = unread.length === 1 ? [unread] : [...unread.map((k) => [k]), unread];
  for (const completed of variants) {
    const done = new Set(completed);
    const tasks = { ...snapshot.tasks };
    for (const k of completed) tasks[k] = 'COMPLETED';
    if (!sameDecision(decide({ ...snapshot, tasks }), decided, done)) return true;
  }
  return false;
}

const closes = (c: Command, keys: Set<string>) =>
  (c.type === 'completeTask' || c.type === 'cancelTask') && keys.has(c.key);

/** The same state and commands, except closing the tasks taken as completed (compared as JSON would, sameData). */
function sameDecision(a: EngineResult, b: EngineResult, completed: Set<string>): boolean {
  const kept = (r: EngineResult) => r.commands.filter((c) => !closes(c, completed));
  return sameData(a.state, b.state) && sameData(kept(a), kept(b));
}
