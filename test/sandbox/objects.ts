import { OBJECT_LABEL, type ObjectType, type PropertyCatalog } from './catalog';
import { notFound, propertyValuesInvalid, type PropertyProblem } from './errors';
import type { OwnerStore } from './owners';
import type { PipelineStore } from './pipelines';
import { applyStageChange } from './stages';
import { normalizeWrite, type ExternalOptions } from './values';

export type Source = { changeSource: string; sourceId: string };

export type Change =
  | {
      kind: 'creation' | 'deletion' | 'restore';
      objectType: ObjectType;
      objectId: string;
      occurredAt: number;
      source: Source;
    }
  | {
      kind: 'propertyChange';
      objectType: ObjectType;
      objectId: string;
      occurredAt: number;
      source: Source;
      propertyName: string;
      propertyValue: string;
    }
  | {
      kind: 'merge';
      objectType: ObjectType;
      objectId: string;
      occurredAt: number;
      source: Source;
      primaryObjectId: string;
      mergedObjectIds: string[];
      newObjectId: string;
      numberOfPropertiesMoved: number;
    };

export type StoredObject = {
  id: string;
  type: ObjectType;
  props: Map<string, string>;
  createdAt: number;
  updatedAt: number;
  archived: boolean;
  archivedAt?: number;
  mergedInto?: string;
};

export type StoreContext = {
  now: () => number;
  portalId: number;
  catalogs: Record<ObjectType, PropertyCatalog>;
  pipelines: PipelineStore;
  owners: OwnerStore;
  emit: (c: Change) => void;
  nextId: () => string;
};

const CREATE_DATE: Record<ObjectType, string> = {
  deals: 'createdate',
  tasks: 'hs_createdate',
  notes: 'hs_createdate',
};
const DEFAULT_READ: Record<ObjectType, string[]> = {
  deals: [
    'amount',
    'closedate',
    'createdate',
    'dealname',
    'dealstage',
    'hs_lastmodifieddate',
    'hs_object_id',
    'pipeline',
  ],
  tasks: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'],
  notes: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'],
};
/** Changes to these never reach webhooks: HubSpot forbids subscribing to hs_lastmodifieddate, and ids don't change. */
const SILENT = (name: string) =>
  name === 'hs_lastmodifieddate' || name === 'hs_object_id' || name.startsWith('hs_v2_');

/** A validated write, ready to apply; batch endpoints validate every input before applying any. */
export type PreparedWrite = {
  type: ObjectType;
  target?: StoredObject;
  values: Record<string, string | null>;
};

export class ObjectStore {
  private readonly objects: Record<ObjectType, Map<string, StoredObject>> = {
    deals: new Map(),
    tasks: new Map(),
    notes: new Map(),
  };

  constructor(private readonly ctx: StoreContext) {}

  private ext(): ExternalOptions {
    return {
      isOwner: (id) => this.ctx.owners.isAssignable(id),
      isPipeline: (id) => this.ctx.pipelines.has(id),
      isStage: (id) => Boolean(this.ctx.pipelines.stage(id)),
    };
  }

  private fail(problems: PropertyProblem[]): never {
    throw propertyValuesInvalid(problems, this.ctx.portalId);
  }

  /** Resolves merged-away ids to the surviving record, as HubSpot's reads do. */
  find(type: ObjectType, id: string, archived = false): StoredObject | undefined {
    let o = this.objects[type].get(id);
    while (o?.mergedInto) o = this.objects[type].get(o.mergedInto);
    if (!o || o.archived !== archived) return undefined;
    return o;
  }

  get(type: ObjectType, id: string, archived = false): StoredObject {
    const o = this.find(type, id, archived);
    if (!o)
      throw notFound(`Object not found.  objectId are usually numeric.`, {
        context: { id: [id], objectType: [OBJECT_LABEL[type]] },
      });
    return o;
  }

  all(type: ObjectType, archived = false): StoredObject[] {
    return [...this.objects[type].values()].filter((o) => o.archived === archived && !o.mergedInto);
  }

  prepareCreate(type: ObjectType, properties: unknown): PreparedWrite {
    const { values, problems } = normalizeWrite(this.ctx.catalogs[type], properties, this.ext());
    if (type === 'deals') {
      const pipelineId = values.pipeline ?? this.ctx.pipelines.defaultPipeline()?.id;
      const pipeline = pipelineId ? this.ctx.pipelines.find(pipelineId) : undefined;
      if (!pipeline)
        problems.push({
          name: 'pipeline',
          message: `${pipelineId ?? '(none)'} is not a valid pipeline`,
          error: 'INVALID_OPTION',
        });
      else {
        values.pipeline = pipeline.id;
        // HubSpot UI puts a deal without a stage into the pipeline's first stage; the API docs ask for one. UNCERTAIN.
        values.dealstage ??= pipeline.stages[0]!.id;
        if (!pipeline.stages.some((s) => s.id === values.dealstage))
          problems.push(stageNotInPipeline(values.dealstage, pipeline.id));
      }
    }
    if (type !== 'deals' && !values.hs_timestamp && !problems.some((p) => p.name === 'hs_timestamp'))
      problems.push({ name: 'hs_timestamp', message: 'hs_timestamp is required', error: 'REQUIRED_FIELD' });
    if (problems.length) this.fail(problems);
    if (type === 'tasks') values.hs_task_status ??= 'NOT_STARTED';
    return { type, values };
  }

  prepareUpdate(type: ObjectType, target: StoredObject, properties: unknown): PreparedWrite {
    const { values, problems } = normalizeWrite(this.ctx.catalogs[type], properties, this.ext());
    if (type === 'deals' && ('pipeline' in values || 'dealstage' in values)) {
      const pipelineId = values.pipeline === undefined ? target.props.get('pipeline') : values.pipeline;
      const stageId = values.dealstage === undefined ? target.props.get('dealstage') : values.dealstage;
      if (!pipelineId)
        problems.push({ name: 'pipeline', message: 'pipeline cannot be empty', error: 'INVALID_OPTION' });
      else if (!stageId)
        problems.push({ name: 'dealstage', message: 'dealstage cannot be empty', error: 'INVALID_OPTION' });
      else if (!this.ctx.pipelines.find(pipelineId)?.stages.some((s) => s.id === stageId))
        problems.push(stageNotInPipeline(stageId, pipelineId));
    }
    if (type !== 'deals' && 'hs_timestamp' in values && values.hs_timestamp === null)
      problems.push({ name: 'hs_timestamp', message: 'hs_timestamp is required', error: 'REQUIRED_FIELD' });
    if (problems.length) this.fail(problems);
    return { type, target, values };
  }

  commitCreate(w: PreparedWrite, source: Source): StoredObject {
    const now = this.ctx.now();
    const id = this.ctx.nextId();
    const obj: StoredObject = {
      id,
      type: w.type,
      props: new Map(),
      createdAt: now,
      updatedAt: now,
      archived: false,
    };
    this.objects[w.type].set(id, obj);
    obj.props.set('hs_object_id', id);
    obj.props.set(CREATE_DATE[w.type], w.values[CREATE_DATE[w.type]] ?? new Date(now).toISOString());
    this.ctx.emit({ kind: 'creation', objectType: w.type, objectId: id, occurredAt: now, source });
    this.apply(obj, w.values, source, now);
    return obj;
  }

  commitUpdate(w: PreparedWrite, source: Source): StoredObject {
    const obj = w.target!;
    this.apply(obj, w.values, source, this.ctx.now());
    return obj;
  }

  /** Sets values, derives what HubSpot derives, bumps hs_lastmodifieddate, and reports real changes. */
  private apply(obj: StoredObject, values: Record<string, string | null>, source: Source, now: number): void {
    const changed: string[] = [];
    const oldStage = obj.props.get('dealstage');
    for (const [k, v] of Object.entries(values)) {
      if (k === CREATE_DATE[obj.type] && obj.props.has(k) && v === obj.props.get(k)) continue;
      if ((v ?? undefined) === obj.props.get(k)) continue;
      if (v === null) obj.props.delete(k);
      else obj.props.set(k, v);
      changed.push(k);
    }
    if (obj.type === 'deals' && changed.includes('dealstage')) {
      changed.push(
        ...applyStageChange(obj.props, oldStage, obj.props.get('dealstage')!, now, this.ctx.pipelines),
      );
    }
    if (obj.type === 'tasks' && changed.includes('hs_task_status')) {
      if (obj.props.get('hs_task_status') === 'COMPLETED')
        obj.props.set('hs_task_completion_date', new Date(now).toISOString());
      else obj.props.delete('hs_task_completion_date');
      changed.push('hs_task_completion_date');
    }
    obj.props.set('hs_lastmodifieddate', new Date(now).toISOString());
    obj.updatedAt = now;
    for (const name of new Set(changed)) {
      if (SILENT(name)) continue;
      this.ctx.emit({
        kind: 'propertyChange',
        objectType: obj.type,
        objectId: obj.id,
        occurredAt: now,
        source,
        propertyName: name,
        propertyValue: obj.props.get(name) ?? '',
      });
    }
  }

  archive(obj: StoredObject, source: Source): void {
    const now = this.ctx.now();
    obj.archived = true;
    obj.archivedAt = now;
    obj.updatedAt = now;
    this.ctx.emit({ kind: 'deletion', objectType: obj.type, objectId: obj.id, occurredAt: now, source });
  }

  restore(obj: StoredObject, source: Source): void {
    const now = this.ctx.now();
    obj.archived = false;
    delete obj.archivedAt;
    obj.updatedAt = now;
    obj.props.set('hs_lastmodifieddate', new Date(now).toISOString());
    this.ctx.emit({ kind: 'restore', objectType: obj.type, objectId: obj.id, occurredAt: now, source });
  }

  /** HubSpot merge: the primary survives, blanks on it are filled from the other, the other id resolves to it. */
  merge(type: ObjectType, primary: StoredObject, other: StoredObject, source: Source): StoredObject {
    const now = this.ctx.now();
    let moved = 0;
    for (const [k, v] of other.props) {
      if (k.startsWith('hs_v2_') || k === 'hs_object_id' || primary.props.has(k)) continue;
      primary.props.set(k, v);
      moved++;
    }
    const mergedIds = [...(primary.props.get('hs_merged_object_ids')?.split(';') ?? []), other.id].filter(
      Boolean,
    );
    primary.props.set('hs_merged_object_ids', mergedIds.join(';'));
    primary.props.set('hs_lastmodifieddate', new Date(now).toISOString());
    primary.updatedAt = now;
    other.mergedInto = primary.id;
    other.archived = true;
    other.archivedAt = now;
    this.ctx.emit({
      kind: 'merge',
      objectType: type,
      objectId: primary.id,
      occurredAt: now,
      source,
      primaryObjectId: primary.id,
      mergedObjectIds: [other.id],
      newObjectId: primary.id,
      numberOfPropertiesMoved: moved,
    });
    return primary;
  }

  /**
   * The API shape. `requested` undefined → HubSpot's default set; otherwise the requested names that exist
   * (unknown names are ignored on reads, as HubSpot does) plus the ones HubSpot always includes, with null
   * for properties that have no value. `full` → everything the object has (create/update responses).
   */
  /** `hideSensitive`: the caller lacks the sensitive-data scope, so Sensitive Data properties are left out. */
  toApi(
    obj: StoredObject,
    requested?: string[],
    full = false,
    hideSensitive = false,
  ): Record<string, unknown> {
    const catalog = this.ctx.catalogs[obj.type];
    const derived = this.derived(obj);
    const properties: Record<string, string | null> = {};
    if (full) {
      for (const [k, v] of obj.props) properties[k] = v;
    } else {
      const names = requested
        ? [...requested, CREATE_DATE[obj.type], 'hs_lastmodifieddate', 'hs_object_id']
        : DEFAULT_READ[obj.type];
      for (const n of names) {
        if (!catalog.get(n)) continue;
        if (hideSensitive && catalog.get(n)!.dataSensitivity) continue;
        properties[n] = derived[n] ?? obj.props.get(n) ?? null;
      }
    }
    return {
      id: obj.id,
      properties,
      createdAt: new Date(obj.createdAt).toISOString(),
      updatedAt: new Date(obj.updatedAt).toISOString(),
      archived: obj.archived,
      ...(obj.archivedAt !== undefined ? { archivedAt: new Date(obj.archivedAt).toISOString() } : {}),
    };
  }

  /** Values HubSpot computes at read time rather than storing. */
  private derived(obj: StoredObject): Record<string, string> {
    if (obj.type !== 'deals') return {};
    const entered = Date.parse(obj.props.get('hs_v2_date_entered_current_stage') ?? '');
    return Number.isNaN(entered)
      ? {}
      : { hs_v2_time_in_current_stage: String(Math.max(0, this.ctx.now() - entered)) };
  }

  /** Current value for search/filtering, including read-time values. */
  value(obj: StoredObject, name: string): string | undefined {
    return this.derived(obj)[name] ?? obj.props.get(name);
  }
}

function stageNotInPipeline(stage: string | null | undefined, pipeline: string): PropertyProblem {
  return {
    name: 'dealstage',
    message: `${stage} was not one of the allowed options for dealstage in pipeline ${pipeline}`,
    error: 'INVALID_OPTION',
  };
}
