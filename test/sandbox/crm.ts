import { assocNotFound, type AssocType } from './associations';
import type { ObjectType } from './catalog';
import { validationError } from './errors';
import type { PreparedWrite, Source, StoredObject } from './objects';
import type { SandboxPortal } from './portal';

type InlineAssociation = { toType: AssocType; toId: string; typeId: number; inverse: number };
export type PreparedCreate = { write: PreparedWrite; associations: InlineAssociation[] };

/** The default target type of each HUBSPOT_DEFINED id a task or note may carry inline (facts §6, §8). */
const INLINE_TARGETS: Record<number, AssocType> = {
  216: 'deals',
  214: 'deals',
  215: 'tasks',
  213: 'notes',
  3: 'contacts',
  341: 'companies',
  5: 'companies',
};

/**
 * Validates a create input, inline associations included, without changing anything. An association to an
 * id that does not exist, or with a type id not defined for this pair, refuses the whole create.
 */
export function prepareCreate(portal: SandboxPortal, type: ObjectType, input: unknown): PreparedCreate {
  const i = (input ?? {}) as { properties?: unknown; associations?: unknown };
  const write = portal.objects.prepareCreate(type, i.properties ?? {});
  const associations: InlineAssociation[] = [];
  if (i.associations !== undefined && !Array.isArray(i.associations))
    throw validationError('associations must be an array');
  for (const a of (i.associations ?? []) as { to?: { id?: unknown }; types?: unknown[] }[]) {
    const toId = a?.to?.id === undefined ? undefined : String(a.to.id);
    if (!toId || !Array.isArray(a.types) || a.types.length === 0)
      throw validationError('Each association needs to.id and at least one type');
    for (const spec of a.types) {
      const typeId = (spec as { associationTypeId?: unknown })?.associationTypeId;
      const toType = typeof typeId === 'number' ? INLINE_TARGETS[typeId] : undefined;
      if (!toType)
        throw validationError(
          `${String((spec as { associationCategory?: unknown })?.associationCategory)} ${String(typeId)} is not a valid association type from ${type}`,
          {
            context: { associationTypeId: [String(typeId)] },
          },
        );
      const def = portal.associations.check(type, toType, spec);
      const kept = recordIdOf(portal, toType, toId);
      if (!kept)
        throw validationError(`One or more associations are invalid: ${assocNotFound(toType, toId).message}`);
      associations.push({ toType, toId: kept, ...def });
    }
  }
  return { write, associations };
}

export function commitCreate(portal: SandboxPortal, p: PreparedCreate, source: Source): StoredObject {
  const obj = portal.objects.commitCreate(p.write, source);
  for (const a of p.associations)
    portal.associations.add(p.write.type, obj.id, a.toType, a.toId, a.typeId, a.inverse);
  return obj;
}

export function createObject(
  portal: SandboxPortal,
  type: ObjectType,
  input: unknown,
  source: Source,
): StoredObject {
  return commitCreate(portal, prepareCreate(portal, type, input), source);
}

export function updateObject(
  portal: SandboxPortal,
  type: ObjectType,
  id: string,
  properties: unknown,
  source: Source,
): StoredObject {
  const target = portal.objects.get(type, id);
  return portal.objects.commitUpdate(portal.objects.prepareUpdate(type, target, properties), source);
}

/**
 * The id the record `id` names is kept under, or undefined when there is no such record (contacts and companies
 * are not kept here). One record survives a merge, and a merged-away id stands for it in an association call as in
 * a read by id (`find` follows the merge): an association made to the old id lands on the survivor, and the old
 * id's associations are the survivor's. UNCERTAIN in the facts (see this folder's README).
 */
export function recordIdOf(portal: SandboxPortal, type: AssocType, id: string): string | undefined {
  if (type === 'contacts' || type === 'companies') return undefined;
  return portal.objects.find(type, id)?.id;
}

export function mergeObjects(
  portal: SandboxPortal,
  type: ObjectType,
  primaryId: string,
  otherId: string,
  source: Source,
): StoredObject {
  const primary = portal.objects.get(type, primaryId);
  const other = portal.objects.get(type, otherId);
  if (primary.id === other.id) throw validationError('Cannot merge an object with itself');
  portal.associations.rehome(type, other.id, primary.id);
  return portal.objects.merge(type, primary, other, source);
}
