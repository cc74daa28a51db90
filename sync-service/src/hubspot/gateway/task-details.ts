import type { SharedBatches } from '../shared-batches';
import { chunk, throwIfReadRefused } from './batching';

const TASK_PROPERTIES = ['hs_task_status', 'hs_task_subject', 'hs_task_body'];
const TASK_STATUSES = new Set(['NOT_STARTED', 'IN_PROGRESS', 'WAITING', 'DEFERRED', 'COMPLETED']);
/** Entries kept at most; the oldest go first. */
const MAX_REMEMBERED = 5_000;

export type TaskDetail = { status: string; subject: string; body: string; at: number };

/**
 * Status, subject and body of tasks, read in batches. What a snapshot reads is remembered for a short while so
 * the apply right after it can cancel a task (which edits its text) without a second read. In memory only (never
 * Redis, never logs): task bodies may mention patients.
 */
export class TaskDetails {
  private readonly remembered = new Map<string, TaskDetail>();

  constructor(
    private readonly batches: SharedBatches,
    private readonly now: () => number,
    /** How long a detail read may be reused. */
    private readonly ttlMs: number,
  ) {}

  /** The tasks HubSpot still has (a deleted one is simply absent); an unknown status reads as NOT_STARTED. */
  async read(portalId: string, taskIds: string[]): Promise<Map<string, TaskDetail>> {
    const out = new Map<string, TaskDetail>();
    for (const part of chunk(taskIds)) {
      const { res } = await this.batches.read(portalId, 'tasks', part, TASK_PROPERTIES);
      const mine = new Set(part);
      throwIfReadRefused(portalId, 'tasks.batch.read', res.errors, part);
      for (const r of res.results) {
        if (!mine.has(r.id)) continue;
        const status = r.properties.hs_task_status ?? 'NOT_STARTED';
        const d: TaskDetail = {
          status: TASK_STATUSES.has(status) ? status : 'NOT_STARTED',
          subject: r.properties.hs_task_subject ?? '',
          body: r.properties.hs_task_body ?? '',
          at: this.now(),
        };
        out.set(r.id, d);
        this.remember(portalId, r.id, d);
      }
    }
    return out;
  }

  /** A detail read within the last `ttlMs`, if any. */
  recall(portalId: string, taskId: string): TaskDetail | undefined {
    const d = this.remembered.get(`${portalId}:${taskId}`);
    if (!d || this.now() - d.at > this.ttlMs) return undefined;
    return d;
  }

  /** The task was just written: what was read of it no longer holds. */
  forget(portalId: string, taskId: string): void {
    this.remembered.delete(`${portalId}:${taskId}`);
  }

  private remember(portalId: string, taskId: string, d: TaskDetail): void {
    const k = `${portalId}:${taskId}`;
    this.remembered.delete(k);
    this.remembered.set(k, d);
    // Bounded: oldest entries go first (Map keeps insertion order).
    while (this.remembered.size > MAX_REMEMBERED)
      this.remembered.delete(this.remembered.keys().next().value!);
  }
}
