import type { AssociationSpecAssociationCategoryEnum } from '@hubspot/api-client/lib/codegen/crm/objects/tasks/index';
import type { Command } from '@stagekeeper/shared';
import { HubSpotRequestError, HubSpotUnavailableError } from '../errors';
import type { MapMirror } from '../objectmap';
import type { BatchResult } from '../shared-batches';
import { batchRejected, chunk } from './batching';
import { bodyProperty, mapOf, type GatewayContext, type ObjectType, type Row } from './context';
import { findMarked, markedKeys, marker } from './marked-objects';
import { alignOwners } from './owner-alignment';
import { reopenTasks } from './task-reopening';

/** HubSpot-defined association type ids (hubspot-api-facts §8). */
const TASK_TO_DEAL = 216;
const NOTE_TO_DEAL = 214;
const HUBSPOT_DEFINED = 'HUBSPOT_DEFINED' as AssociationSpecAssociationCategoryEnum;

/** One object to create, under the engine key that makes it unique per deal. */
export type KeyedCreate = { key: string; properties: Record<string, string> };

/** A createTask command as a task's properties, its body ending in the key's marker. */
export function taskCreate(c: Extract<Command, { type: 'createTask' }>): KeyedCreate {
  const p: Record<string, string> = {
    hs_timestamp: String(c.dueAt),
    hs_task_subject: c.subject,
    hs_task_body: `${c.body}\n\n${marker(c.key)}`,
    hs_task_status: 'NOT_STARTED',
    hs_task_priority: c.priority,
    hs_task_type: c.taskType,
  };
  if (c.ownerId) p.hubspot_owner_id = c.ownerId;
  return { key: c.key, properties: p };
}

/** An addNote command as a note's properties, timestamped `at`, its body ending in the key's marker. */
export function noteCreate(key: string, body: string, at: number): KeyedCreate {
  return { key, properties: { hs_timestamp: String(at), hs_note_body: `${body}\n\n${marker(key)}` } };
}

/**
 * Creates each keyed object at most once. Write-ahead `pending` markers are set before the request; a pending
 * key found later (crash, or an answer lost to a 5xx) is looked for among the deal's associated objects by its
 * marker before anything is created again. `known`: the deal's map already read by the caller, kept up to date
 * here (the closes that follow use it).
 */
export async function createKeyed(
  ctx: GatewayContext,
  portalId: string,
  dealId: string,
  type: ObjectType,
  items: KeyedCreate[],
  known?: MapMirror,
): Promise<void> {
  const map = mapOf(ctx, type);
  const entries = known ?? (await map.get(portalId, dealId));
  const reopened =
    type === 'tasks' ? await reopenTasks(ctx, portalId, dealId, items, entries) : new Set<string>();
  let todo = items.filter((i) => entries.get(i.key)?.state !== 'mapped');
  const pending = todo.filter((i) => entries.get(i.key)?.state === 'pending').map((i) => i.key);
  const read = new Map<string, Row>(); // what the marker lookup read of the tasks it found
  if (pending.length)
    todo = await mapAlreadyCreated(ctx, portalId, dealId, type, todo, pending, read, entries);
  if (type === 'tasks' && todo.length < items.length)
    await alignOwners(
      ctx,
      portalId,
      dealId,
      items.filter((i) => !todo.includes(i) && !reopened.has(i.key)),
      read,
      entries,
    );
  if (todo.length === 0) return;

  await map.markPending(
    portalId,
    dealId,
    todo.map((i) => i.key),
    ctx.now(),
    entries,
  );
  const rounds = ctx.caller.policy.maxAttempts;
  for (let round = 1; ; round++) {
    try {
      await createBatches(ctx, portalId, dealId, type, todo, entries);
      return;
    } catch (err) {
      // Same budget and backoff as any other 5xx, but each retry first looks for what the lost attempt created.
      if (err instanceof HubSpotUnavailableError && err.maybeApplied && round < rounds) {
        await ctx.caller.pause(round);
        todo = await mapAlreadyCreated(
          ctx,
          portalId,
          dealId,
          type,
          todo,
          todo.map((i) => i.key),
          undefined,
          entries,
        );
        if (todo.length === 0) return;
        continue;
      }
      throw err;
    }
  }
}

/**
 * Maps the objects among `keys` that an earlier attempt already created (found by their markers) and returns
 * the items still to create.
 */
async function mapAlreadyCreated(
  ctx: GatewayContext,
  portalId: string,
  dealId: string,
  type: ObjectType,
  todo: KeyedCreate[],
  keys: string[],
  read: Map<string, Row> | undefined,
  entries: MapMirror,
): Promise<KeyedCreate[]> {
  const found = await findMarked(ctx, portalId, dealId, type, new Set(keys), read);
  if (found.size) {
    await mapOf(ctx, type).setIds(portalId, dealId, found, entries);
    ctx.logger?.warn(
      { portalId, dealId, type, recovered: found.size },
      'recovered objects created before a crash',
    );
  }
  return todo.filter((i) => !found.has(i.key));
}

async function createBatches(
  ctx: GatewayContext,
  portalId: string,
  dealId: string,
  type: ObjectType,
  todo: KeyedCreate[],
  entries: MapMirror,
): Promise<void> {
  const map = mapOf(ctx, type);
  const typeId = type === 'tasks' ? TASK_TO_DEAL : NOTE_TO_DEAL;
  const parts = chunk(todo);
  for (let pi = 0; pi < parts.length; pi++) {
    const part = parts[pi]!;
    const inputs = part.map((i) => ({
      properties: i.properties,
      // Opts in to per-input results; also lets us match results to keys without trusting their order.
      objectWriteTraceId: i.key,
      associations: [
        {
          to: { id: dealId },
          types: [{ associationCategory: HUBSPOT_DEFINED, associationTypeId: typeId }],
        },
      ],
    }));
    let res: BatchResult;
    try {
      res = await ctx.batches.create(portalId, type, inputs);
    } catch (err) {
      const definite = !(err instanceof HubSpotUnavailableError && err.maybeApplied);
      // Nothing was created for this or later chunks: drop their write-ahead markers so no recovery read is paid.
      if (definite)
        await map.remove(
          portalId,
          dealId,
          parts
            .slice(pi)
            .flat()
            .map((i) => i.key),
          entries,
        );
      if (err instanceof HubSpotRequestError && part.length > 1) {
        // One bad input fails the whole batch; retry one by one so the good ones are still created.
        await createOneByOne(ctx, portalId, dealId, type, parts.slice(pi).flat(), entries);
        return;
      }
      throw err;
    }
    await map.setIds(portalId, dealId, matchCreated(dealId, part, res, bodyProperty(type)), entries);
    if (res.errors?.length) {
      const e = res.errors[0]!;
      throw batchRejected({
        portalId,
        operation: `${type}.batch.create`,
        category: e.category,
        detail: `${res.errors.length} input(s) rejected`,
      });
    }
  }
}

async function createOneByOne(
  ctx: GatewayContext,
  portalId: string,
  dealId: string,
  type: ObjectType,
  items: KeyedCreate[],
  entries: MapMirror,
): Promise<void> {
  let first: HubSpotRequestError | undefined;
  for (const item of items) {
    try {
      await createKeyed(ctx, portalId, dealId, type, [item], entries);
    } catch (err) {
      if (!(err instanceof HubSpotRequestError)) throw err;
      if (
        type === 'tasks' &&
        err.properties.includes('hubspot_owner_id') &&
        item.properties.hubspot_owner_id
      ) {
        // A deactivated owner should not cost the deal its task: create it unassigned and say so.
        const { hubspot_owner_id: _drop, ...rest } = item.properties;
        ctx.logger?.warn(
          { portalId, dealId, key: item.key },
          'task owner rejected; creating the task unassigned',
        );
        await createKeyed(ctx, portalId, dealId, type, [{ key: item.key, properties: rest }], entries);
      }
      first ??= err;
    }
  }
  if (first) throw first;
}

/**
 * Engine key -> created id, matched by trace id, else by the marker in the body; never by position. A batch
 * shared by many deals answers each with every result that carries no trace id (shared-batches.ts), so a body
 * is searched only when it names this deal at all: a 10,000-deal move's profile had the marker search of every
 * result, once per deal of its batch, at 5 % of the worker's CPU.
 */
function matchCreated(
  dealId: string,
  part: KeyedCreate[],
  res: BatchResult,
  bodyProp: string,
): Map<string, string> {
  const keys = new Set(part.map((i) => i.key));
  // Every engine key starts with its deal's id; should one not, every body is searched.
  const mine = [...keys].every((k) => k.startsWith(`${dealId}:`)) ? marker(`${dealId}:`).slice(0, -1) : '';
  const ids = new Map<string, string>();
  for (const r of res.results) {
    let key: string | undefined;
    if (r.objectWriteTraceId && keys.has(r.objectWriteTraceId)) key = r.objectWriteTraceId;
    else {
      const body = r.properties[bodyProp] ?? '';
      if (body.includes(mine)) key = markedKeys(body).find((k) => keys.has(k));
    }
    if (key && !ids.has(key)) ids.set(key, r.id);
  }
  // Anything left unmatched stays `pending` and is found by the marker lookup on the next apply.
  return ids;
}
