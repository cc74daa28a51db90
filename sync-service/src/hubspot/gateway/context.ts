import type { CallLogger, HubSpotCaller } from '../call';
import type { ObjectMap } from '../objectmap';
import type { SharedBatches } from '../shared-batches';
import type { TaskDetails } from './task-details';

/** The HubSpot object types Stagekeeper creates, keyed by engine key: tasks and notes. */
export type ObjectType = 'tasks' | 'notes';

/** A row of properties as HubSpot returns them (absent values are null). */
export type Row = Record<string, string | null>;

/**
 * What every part of the gateway works with, built once by the facade (gateway.ts): the caller (rate limits,
 * retries), batch calls shared with other deals in flight, the per-deal maps from engine key to HubSpot id,
 * and the task text read for the cancel that may follow.
 */
export type GatewayContext = {
  caller: HubSpotCaller;
  batches: SharedBatches;
  taskMap: ObjectMap;
  noteMap: ObjectMap;
  details: TaskDetails;
  now: () => number;
  logger?: CallLogger;
};

export const mapOf = (ctx: GatewayContext, type: ObjectType): ObjectMap =>
  type === 'tasks' ? ctx.taskMap : ctx.noteMap;

/** The property that carries an object's text, and with it the object's `[stagekeeper:<key>]` marker. */
export const bodyProperty = (type: ObjectType) => (type === 'tasks' ? 'hs_task_body' : 'hs_note_body');
