import type { Command } from '@stagekeeper/shared';

type CreateTask = Extract<Command, { type: 'createTask' }>;

/** One deal's HubSpot commands, grouped by the call that carries them out. */
export type CommandGroups = {
  /** Engine key -> the first createTask for it. */
  creates: Map<string, CreateTask>;
  /** Engine key -> how to close it: a cancel carries its reason, a complete none. */
  closes: Map<string, { reason?: string }>;
  /** Engine key -> new due time, for tasks not also closed by these commands. */
  reschedules: Map<string, number>;
  /** Every deal property written (fields, stage move, owner): one PATCH. */
  dealProps: Record<string, string>;
  /** Engine key -> the first note body for it. */
  notes: Map<string, string>;
};

/**
 * Groups a decision's commands so each HubSpot call carries all of its kind. A key decided twice keeps its
 * first create or note; a cancel wins over a complete (the reason must reach the task); a closed task is not
 * rescheduled. Timer and history commands are the worker's and are left out.
 */
export function groupCommands(commands: Command[]): CommandGroups {
  const g: CommandGroups = {
    creates: new Map(),
    closes: new Map(),
    reschedules: new Map(),
    dealProps: {},
    notes: new Map(),
  };
  for (const c of commands) {
    switch (c.type) {
      case 'createTask':
        if (!g.creates.has(c.key)) g.creates.set(c.key, c);
        break;
      case 'completeTask':
        if (!g.closes.has(c.key)) g.closes.set(c.key, {});
        break;
      case 'cancelTask':
        g.closes.set(c.key, { reason: c.reason });
        break;
      case 'rescheduleTask':
        g.reschedules.set(c.key, c.dueAt);
        break;
      case 'setProperties':
        Object.assign(g.dealProps, c.properties);
        break;
      case 'moveStage':
        g.dealProps.dealstage = c.toStage;
        if (c.toPipeline) g.dealProps.pipeline = c.toPipeline;
        break;
      case 'assignOwner':
        g.dealProps.hubspot_owner_id = c.ownerId;
        break;
      case 'addNote':
        if (!g.notes.has(c.key)) g.notes.set(c.key, c.body);
        break;
      default:
        // Timers and history belong to the worker.
        break;
    }
  }
  for (const key of g.closes.keys()) g.reschedules.delete(key);
  return g;
}
