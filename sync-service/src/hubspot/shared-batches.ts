import type { Client } from '@hubspot/api-client';
import type { HubSpotCaller } from './call';
import { Coalescer, type CoalesceOptions, type Outcome } from './coalesce';
import { HubSpotRequestError } from './errors';

export type BatchObject = 'deals' | 'tasks' | 'notes';
export type BatchError = { category: string; message?: string; context?: Record<string, string[]> };
export type BatchResult = {
  results: Array<{ id: string; properties: Record<string, string | null>; objectWriteTraceId?: string }>;
  errors?: BatchError[];
};
/** A read's answer plus every id the shared call asked for, so a caller can tell merged-away strays apart. */
export type SharedRead = { res: BatchResult; requested: Set<string> };
export type CreateInput = {
  properties: Record<string, string>;
  objectWriteTraceId: string;
  associations: unknown[];
};
export type UpdateInput = { id: string; properties: Record<string, string> };

// The generated clients differ per object type only in where their batch API lives.
const batchApi = (c: Client, type: BatchObject) =>
  type === 'deals'
    ? c.crm.deals.batchApi
    : type === 'tasks'
      ? c.crm.objects.tasks.batchApi
      : c.crm.objects.notes.batchApi;

/** A rate slot taken before the batch was formed (HubSpotCaller.admit), for the batch's first call. */
type Slot = string | undefined;

const lane = (...parts: string[]) => parts.join('\n');
const unlane = (l: string) => l.split('\n');

/**
 * The batch endpoints the gateway uses, shared between the deals being worked on at the same time (see
 * coalesce.ts). A request that is alone in its batch makes exactly the call it would have made by itself.
 * Each request gets back only its own share of a shared answer, and a batch HubSpot refuses as a whole
 * (one invalid input) is sent again request by request, so one deal's bad input never fails another deal.
 */
export class SharedBatches {
  private readonly reads: Coalescer<string, SharedRead, Slot>;
  private readonly creates: Coalescer<CreateInput, BatchResult, Slot>;
  private readonly updates: Coalescer<UpdateInput, BatchResult, Slot>;
  private readonly dealUpdates: Coalescer<UpdateInput, void, Slot>;

  constructor(
    private readonly caller: HubSpotCaller,
    options: CoalesceOptions = {},
  ) {
    // Each batch is formed once its call holds a rate slot, so it carries everything that queued meanwhile.
    const opts = { admit: (l: string) => this.caller.admit(unlane(l)[0]!), maxInFlight: 1, ...options };
    this.reads = new Coalescer((l, groups, slot) => this.runRead(l, groups, slot), undefined, opts);
    this.creates = new Coalescer(
      (l, groups, slot) => this.runCreate(l, groups, slot),
      (i) => i.objectWriteTraceId,
      opts,
    );
    this.updates = new Coalescer(
      (l, groups, slot) => this.runUpdate(l, groups, slot),
      (i) => i.id,
      opts,
    );
    this.dealUpdates = new Coalescer(
      (l, groups, slot) => this.runDealUpdate(l, groups, slot),
      (i) => i.id,
      opts,
    );
  }

  /** Up to 100 ids. */
  read(portalId: string, type: BatchObject, ids: string[], properties: string[]): Promise<SharedRead> {
    return this.reads.submit(lane(portalId, type, [...properties].sort().join(',')), ids);
  }

  /** Up to 100 inputs; results are matched by `objectWriteTraceId`, which must be unique per portal. */
  create(portalId: string, type: 'tasks' | 'notes', inputs: CreateInput[]): Promise<BatchResult> {
    return this.creates.submit(lane(portalId, type), inputs);
  }

  /** Up to 100 task updates. */
  updateTasks(portalId: string, inputs: UpdateInput[]): Promise<BatchResult> {
    return this.updates.submit(lane(portalId, 'tasks'), inputs);
  }

  /** One deal's PATCH; deals updated at the same time share a batch update. Throws as the PATCH would. */
  updateDeal(portalId: string, dealId: string, properties: Record<string, string>): Promise<void> {
    return this.dealUpdates.submit(lane(portalId, 'deals'), [{ id: dealId, properties }]);
  }

  private async runRead(l: string, groups: string[][], slot: Slot): Promise<Outcome<SharedRead>[]> {
    const [portalId, type, props] = unlane(l) as [string, BatchObject, string];
    const ids = [...new Set(groups.flat())];
    const res = (await this.caller.call(
      portalId,
      `${type}.batch.read`,
      (c) =>
        batchApi(c, type).read({
          inputs: ids.map((id) => ({ id })),
          properties: props ? props.split(',') : [],
          propertiesWithHistory: [],
        }),
      { slot },
    )) as BatchResult;
    const value = { res, requested: new Set(ids) };
    return groups.map(() => ({ ok: true, value }));
  }

  private async runCreate(l: string, groups: CreateInput[][], slot: Slot): Promise<Outcome<BatchResult>[]> {
    const [portalId, type] = unlane(l) as [string, 'tasks' | 'notes'];
    // Not idempotent: after a lost answer each deal looks for its own objects by marker before creating again.
    const once = async (inputs: CreateInput[], slot?: string) =>
      (await this.caller.call(
        portalId,
        `${type}.batch.create`,
        (c) => batchApi(c, type).create({ inputs } as never),
        { idempotent: false, slot },
      )) as BatchResult;
    return shared(slot, groups, once, once, (res, group) => {
      const mine = new Set(group.map((i) => i.objectWriteTraceId));
      const results = res.results.filter((r) => !r.objectWriteTraceId || mine.has(r.objectWriteTraceId));
      const answered = new Set(results.map((r) => r.objectWriteTraceId));
      const complete = group.every((i) => answered.has(i.objectWriteTraceId));
      return {
        ok: true,
        value: { results, ...(res.errors?.length && !complete ? { errors: res.errors } : {}) },
      };
    });
  }

  private async runUpdate(l: string, groups: UpdateInput[][], slot: Slot): Promise<Outcome<BatchResult>[]> {
    const [portalId] = unlane(l) as [string];
    const once = async (inputs: UpdateInput[], slot?: string) => {
      try {
        return (await this.caller.call(
          portalId,
          'tasks.batch.update',
          (c) => c.crm.objects.tasks.batchApi.update({ inputs }),
          { slot },
        )) as BatchResult;
      } catch (err) {
        // HubSpot may refuse a whole batch naming a deleted task (404) instead of answering 207: retrying the
        // same batch would fail forever, so each task goes on its own and the gone ones read as not found.
        if (err instanceof HubSpotRequestError && err.notFound)
          return this.updateTasksOneByOne(portalId, inputs);
        throw err;
      }
    };
    return shared(slot, groups, once, once, (res, group) => ({ ok: true, value: shareUpdate(res, group) }));
  }

  /** The batch update's answer, built from single updates: results, plus OBJECT_NOT_FOUND / refusals by id. */
  private async updateTasksOneByOne(portalId: string, inputs: UpdateInput[]): Promise<BatchResult> {
    const results: BatchResult['results'] = [];
    const missing: string[] = [];
    const refused: BatchError[] = [];
    for (const input of inputs) {
      try {
        const r = await this.caller.call(portalId, 'tasks.update', (c) =>
          c.crm.objects.tasks.basicApi.update(input.id, { properties: input.properties }),
        );
        results.push({ id: r.id, properties: r.properties });
      } catch (err) {
        if (!(err instanceof HubSpotRequestError)) throw err;
        if (err.notFound) missing.push(input.id);
        else refused.push({ category: err.category ?? 'VALIDATION_ERROR', context: { ids: [input.id] } });
      }
    }
    const errors = [
      ...(missing.length ? [{ category: 'OBJECT_NOT_FOUND', context: { ids: missing } }] : []),
      ...refused,
    ];
    return { results, ...(errors.length ? { errors } : {}) };
  }

  private async runDealUpdate(l: string, groups: UpdateInput[][], slot: Slot): Promise<Outcome<void>[]> {
    const [portalId] = unlane(l) as [string];
    // A deal alone keeps its own PATCH; deals updated together share a batch update.
    const patch = async ([input]: UpdateInput[], slot?: string) => {
      await this.caller.call(
        portalId,
        'deals.update',
        (c) => c.crm.deals.basicApi.update(input!.id, { properties: input!.properties }),
        { slot },
      );
    };
    const batch = async (inputs: UpdateInput[], slot?: string) =>
      (await this.caller.call(
        portalId,
        'deals.batch.update',
        (c) => c.crm.deals.batchApi.update({ inputs }),
        { slot },
      )) as BatchResult;
    return shared<UpdateInput, BatchResult, void>(slot, groups, patch, batch, (res, group) => {
      const e = shareUpdate(res, group).errors?.[0];
      if (!e) return { ok: true, value: undefined };
      // The same error the deal's own PATCH would have raised, so callers need one code path.
      const status = e.category === 'OBJECT_NOT_FOUND' ? 404 : 400;
      return {
        ok: false,
        error: new HubSpotRequestError({
          portalId,
          operation: 'deals.update',
          status,
          category: e.category,
          detail: 'rejected in a shared batch update',
        }),
      };
    });
  }
}

/**
 * A request alone makes its own call (`alone`); several share one (`together`) and each gets its share. If
 * HubSpot refuses the shared batch as a whole (one invalid input), each request is sent alone so each gets its
 * own verdict. The batch's rate slot goes to its first call; the separate ones take their own.
 */
async function shared<I, T, R>(
  slot: Slot,
  groups: I[][],
  alone: (inputs: I[], slot?: string) => Promise<R>,
  together: (inputs: I[], slot?: string) => Promise<T>,
  share: (res: T, group: I[]) => Outcome<R>,
): Promise<Outcome<R>[]> {
  if (groups.length === 1) return [await settle(() => alone(groups[0]!, slot))];
  let res: T;
  try {
    res = await together(groups.flat(), slot);
  } catch (err) {
    if (err instanceof HubSpotRequestError) return Promise.all(groups.map((g) => settle(() => alone(g))));
    throw err;
  }
  return groups.map((g) => share(res, g));
}

/** A group's share of a batch update: its results, errors naming its ids, and unattributed errors if it lacks a result. */
function shareUpdate(res: BatchResult, group: UpdateInput[]): BatchResult {
  const mine = new Set(group.map((i) => i.id));
  const results = res.results.filter((r) => mine.has(r.id));
  const answered = new Set(results.map((r) => r.id));
  const incomplete = group.some((i) => !answered.has(i.id));
  const errors: BatchError[] = [];
  for (const e of res.errors ?? []) {
    const ids = e.context?.ids;
    if (ids) {
      const own = ids.filter((id) => mine.has(id));
      if (own.length) errors.push({ ...e, context: { ...e.context, ids: own } });
    } else if (incomplete) errors.push(e);
  }
  return { results, ...(errors.length ? { errors } : {}) };
}

async function settle<R>(fn: () => Promise<R>): Promise<Outcome<R>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}
