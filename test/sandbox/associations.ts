import { notFound, validationError } from './errors';

/** Object types the association API knows; only deals, tasks and notes have records in the sandbox. */
export type AssocType = 'deals' | 'tasks' | 'notes' | 'contacts' | 'companies';
const ALIASES: Record<string, AssocType> = {
  deals: 'deals',
  deal: 'deals',
  '0-3': 'deals',
  tasks: 'tasks',
  task: 'tasks',
  '0-27': 'tasks',
  notes: 'notes',
  note: 'notes',
  '0-46': 'notes',
  contacts: 'contacts',
  contact: 'contacts',
  '0-1': 'contacts',
  companies: 'companies',
  company: 'companies',
  '0-2': 'companies',
};
export const ASSOC_TYPE_IDS: Record<AssocType, string> = {
  deals: '0-3',
  tasks: '0-27',
  notes: '0-46',
  contacts: '0-1',
  companies: '0-2',
};

export function resolveAssocType(segment: string): AssocType {
  const t = ALIASES[segment.toLowerCase()];
  if (!t) throw validationError(`Unable to infer object type from: ${segment}`);
  return t;
}

/** HUBSPOT_DEFINED type ids (facts §8): [from, to, typeId, inverseTypeId]. */
const DEFINED: [AssocType, AssocType, number, number][] = [
  ['tasks', 'deals', 216, 215],
  ['notes', 'deals', 214, 213],
  ['contacts', 'deals', 4, 3],
  ['companies', 'deals', 342, 341],
];

/** The default ("unlabelled") type id for a pair, and its inverse. */
export function defaultTypeId(
  from: AssocType,
  to: AssocType,
): { typeId: number; inverse: number } | undefined {
  for (const [f, t, id, inv] of DEFINED) {
    if (f === from && t === to) return { typeId: id, inverse: inv };
    if (f === to && t === from) return { typeId: inv, inverse: id };
  }
  return undefined;
}

export type AssociationSpec = { associationCategory: string; associationTypeId: number };
export type AssociationRecord = {
  from: AssocType;
  fromId: string;
  to: AssocType;
  toId: string;
  category: string;
  typeId: number;
};

const CATEGORIES = ['HUBSPOT_DEFINED', 'INTEGRATOR_DEFINED', 'USER_DEFINED', 'WORK'];

type Labelled = { category: string; typeId: number };

/** Every AssocType, for a rehome that must find an object's associations to each of them. */
const ALL_TYPES = Object.keys(ASSOC_TYPE_IDS) as AssocType[];

export class AssociationStore {
  /**
   * Indexed by side (from type, from id, to type), then target id: a list or an add costs what one object's
   * associations cost, as HubSpot's do. A flat list cost the whole portal per call: at 10,000 deals with their
   * tasks, the bulk bench's sandbox spent seconds per pass in it and answered the service late (issue #18).
   */
  private readonly sides = new Map<string, Map<string, Labelled[]>>();

  private side(from: AssocType, fromId: string, to: AssocType, create: true): Map<string, Labelled[]>;
  private side(from: AssocType, fromId: string, to: AssocType): Map<string, Labelled[]> | undefined;
  private side(from: AssocType, fromId: string, to: AssocType, create = false) {
    const key = `${from}:${fromId}:${to}`;
    let m = this.sides.get(key);
    if (!m && create) this.sides.set(key, (m = new Map()));
    return m;
  }

  /**
   * Checks a spec the way HubSpot does: a HUBSPOT_DEFINED id must be the one defined for this direction. The
   * sandbox defines no custom labels, so any other category is refused as an unknown type too.
   */
  check(from: AssocType, to: AssocType, spec: unknown): { typeId: number; inverse: number } {
    const s = spec as Partial<AssociationSpec> | null;
    if (!s || typeof s.associationTypeId !== 'number' || !CATEGORIES.includes(String(s.associationCategory)))
      throw validationError(
        'Invalid association spec: associationCategory and associationTypeId are required',
      );
    const def = defaultTypeId(from, to);
    if (s.associationCategory !== 'HUBSPOT_DEFINED' || !def || def.typeId !== s.associationTypeId)
      throw validationError(
        `${s.associationCategory} ${s.associationTypeId} is not a valid association type between ${ASSOC_TYPE_IDS[from]} and ${ASSOC_TYPE_IDS[to]}`,
        {
          context: {
            associationTypeId: [String(s.associationTypeId)],
            fromObjectType: [ASSOC_TYPE_IDS[from]],
            toObjectType: [ASSOC_TYPE_IDS[to]],
          },
        },
      );
    return def;
  }

  /** Stores both directions, as HubSpot shows an association from either side. Idempotent. */
  add(from: AssocType, fromId: string, to: AssocType, toId: string, typeId: number, inverse: number): void {
    this.put({ from, fromId, to, toId, category: 'HUBSPOT_DEFINED', typeId });
    this.put({
      from: to,
      fromId: toId,
      to: from,
      toId: fromId,
      category: 'HUBSPOT_DEFINED',
      typeId: inverse,
    });
  }

  private put(r: AssociationRecord): void {
    const m = this.side(r.from, r.fromId, r.to, true);
    const types = m.get(r.toId) ?? [];
    if (!types.some((x) => x.typeId === r.typeId)) types.push({ category: r.category, typeId: r.typeId });
    m.set(r.toId, types);
  }

  remove(from: AssocType, fromId: string, to: AssocType, toId: string): void {
    this.side(from, fromId, to)?.delete(toId);
    this.side(to, toId, from)?.delete(fromId);
  }

  /** Moves every association of `oldId` to `newId` (merge). */
  rehome(type: AssocType, oldId: string, newId: string): void {
    if (oldId === newId) return;
    for (const to of ALL_TYPES) {
      const key = `${type}:${oldId}:${to}`;
      const moving = this.sides.get(key);
      if (!moving) continue;
      this.sides.delete(key);
      for (const [toId, types] of moving) {
        for (const t of types) this.put({ from: type, fromId: newId, to, toId, ...t });
        // The other side of each: the target now points at the survivor.
        const back = this.side(to, toId, type);
        const backTypes = back?.get(oldId) ?? [];
        back?.delete(oldId);
        for (const t of backTypes) this.put({ from: to, fromId: toId, to: type, toId: newId, ...t });
      }
    }
  }

  /** Grouped by target id, in v4 `MultiAssociatedObjectWithLabel` form. */
  list(
    from: AssocType,
    fromId: string,
    to: AssocType,
  ): { toObjectId: number; associationTypes: { category: string; typeId: number; label: null }[] }[] {
    const m = this.side(from, fromId, to);
    // Real v4 responses carry toObjectId as a JSON number although the spec types it as a string.
    return [...(m ?? [])]
      .filter(([, types]) => types.length > 0)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([id, types]) => ({
        toObjectId: Number(id),
        associationTypes: types.map((t) => ({ ...t, label: null })),
      }));
  }

  ids(from: AssocType, fromId: string, to: AssocType): string[] {
    return this.list(from, fromId, to).map((r) => String(r.toObjectId));
  }
}

export const assocNotFound = (type: AssocType, id: string) =>
  notFound(`No ${ASSOC_TYPE_IDS[type]} object with id ${id}`, { context: { id: [id] } });
