import type { Client } from '@hubspot/api-client';
import {
  PROPERTY_GROUP,
  WRITTEN_BACK_PROPERTIES,
  type Playbook,
  type PropertyDefinition,
  propertyUses,
} from '@stagekeeper/shared';
import type { PortalCaller } from './hubspot/call';
import { getJson } from './hubspot/raw-request';
import { statusOf } from './hubspot/errors';

/**
 * Prepares a portal for a playbook: the Stagekeeper property group and written-back deal properties (created
 * idempotently, definitions brought up to date), and a check that the pipelines, stages and properties the
 * playbook names exist in the portal. Safe to run on every deploy and every playbook save.
 */

export type PropertyUpdateReport = { name: string; changes: string[] };

export type ProvisionReport = {
  group: 'created' | 'exists' | 'updated';
  created: string[];
  existing: string[];
  updated: PropertyUpdateReport[];
  /** Things the playbook expects that the portal does not have (or has differently): fix before enabling. */
  mismatches: string[];
  /** Properties the playbook's criteria read that deals do not have. */
  missingProperties: Array<{ property: string; usedAt: string[] }>;
  /**
   * Properties the playbook reads that are HubSpot Sensitive Data the install may not read (scope not granted,
   * or highly sensitive, which Stagekeeper never requests): reads return nothing for them, so gates would fail.
   */
  unreadableProperties: Array<{
    property: string;
    usedAt: string[];
    sensitivity: 'sensitive' | 'highly_sensitive';
    fix: string;
  }>;
  /** Worth knowing, not blocking. */
  warnings: string[];
  ok: boolean;
};

type HubSpotOption = {
  label: string;
  value: string;
  displayOrder?: number;
  hidden?: boolean;
  description?: string;
};
type HubSpotProperty = {
  name: string;
  label: string;
  type: string;
  fieldType: string;
  description?: string;
  groupName?: string;
  options?: HubSpotOption[];
};
type HubSpotStage = { id: string; label: string; archived?: boolean; metadata?: Record<string, string> };
type HubSpotPipeline = { id: string; label: string; archived?: boolean; stages: HubSpotStage[] };

export type ProvisionInput = {
  /** A portal-bound caller (limiter, retries) or a bare client (CLI with a private-app token). */
  client: PortalCaller | Client;
  playbook: Playbook;
  /** Scopes the install granted (OAuth); null or absent when unknown (a private app's token). */
  grantedScopes?: readonly string[] | null;
};

/** The optional scope that lets Stagekeeper read deal properties an admin marked as Sensitive Data. */
export const SENSITIVE_READ_SCOPE = 'crm.objects.deals.sensitive.read.v2';

const OBJECT = 'deals';

function callerFor(client: PortalCaller | Client): PortalCaller['call'] {
  if ('crm' in client) return (_op, fn) => fn(client);
  return (op, fn, options) => client.call(op, fn, options);
}

export async function provision({
  client,
  playbook,
  grantedScopes,
}: ProvisionInput): Promise<ProvisionReport> {
  const call = callerFor(client);
  const report: ProvisionReport = {
    group: 'exists',
    created: [],
    existing: [],
    updated: [],
    mismatches: [],
    missingProperties: [],
    unreadableProperties: [],
    warnings: [],
    ok: true,
  };

  // Group ----------------------------------------------------------------------------------------------
  const groups = await call('properties.groups.list', (c) => c.crm.properties.groupsApi.getAll(OBJECT));
  const group = groups.results.find((g) => g.name === PROPERTY_GROUP.name);
  if (!group) {
    try {
      await call('properties.groups.create', (c) =>
        c.crm.properties.groupsApi.create(OBJECT, { ...PROPERTY_GROUP }),
      );
      report.group = 'created';
    } catch (err) {
      // Another process created it between our read and our create.
      if (statusOf(err) !== 409) throw err;
    }
  } else if (group.label !== PROPERTY_GROUP.label) {
    await call('properties.groups.update', (c) =>
      c.crm.properties.groupsApi.update(OBJECT, PROPERTY_GROUP.name, { label: PROPERTY_GROUP.label }),
    );
    report.group = 'updated';
  }

  // Properties -------------------------------------------------------------------------------------------
  const all = (await call('properties.list', (c) => c.crm.properties.coreApi.getAll(OBJECT)))
    .results as HubSpotProperty[];
  const byName = new Map(all.map((p) => [p.name, p]));
  const missing = WRITTEN_BACK_PROPERTIES.filter((d) => !byName.has(d.name));

  if (missing.length) {
    let createdInBatch = new Set<string>();
    try {
      const res = await call('properties.batch.create', (c) =>
        c.crm.properties.batchApi.create(OBJECT, { inputs: missing.map(toCreate) as never }),
      );
      createdInBatch = new Set(res.results.map((p) => p.name));
    } catch (err) {
      // A 409 or validation failure on any input fails the batch; the one-by-one pass below sorts it out.
      if (statusOf(err) === undefined || statusOf(err)! >= 500 || statusOf(err) === 429) throw err;
    }
    for (const d of missing) {
      if (createdInBatch.has(d.name)) {
        report.created.push(d.name);
        continue;
      }
      try {
        await call('properties.create', (c) => c.crm.properties.coreApi.create(OBJECT, toCreate(d) as never));
        report.created.push(d.name);
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
        const existing = (await call('properties.get', (c) =>
          c.crm.properties.coreApi.getByName(OBJECT, d.name),
        )) as HubSpotProperty;
        await reconcile(call, d, existing, report);
      }
    }
  }
  for (const d of WRITTEN_BACK_PROPERTIES) {
    const existing = byName.get(d.name);
    if (existing) await reconcile(call, d, existing, report);
  }

  // Pipelines and stages ------------------------------------------------------------------------------------
  const pipelines = (await call('pipelines.list', (c) => c.crm.pipelines.pipelinesApi.getAll(OBJECT)))
    .results as HubSpotPipeline[];
  checkPipelines(playbook, pipelines, report);

  // Role owners --------------------------------------------------------------------------------------------
  // An owner id the portal does not know makes HubSpot refuse the task's owner: it is then created unassigned.
  if (playbook.roles.length) {
    const known = new Set<string>();
    let after: string | undefined;
    do {
      const page = await call('owners.list', (c) =>
        c.crm.owners.ownersApi.getPage(undefined, after, 100, false),
      );
      for (const o of page.results) known.add(String(o.id));
      after = page.paging?.next?.after;
    } while (after);
    playbook.roles.forEach((r, i) => {
      const unknown = [...new Set([...r.owners, r.lead])].filter((id) => !known.has(id));
      if (unknown.length)
        report.warnings.push(
          `role "${r.id}" (roles[${i}]) names owner id(s) the portal does not have: ${unknown.join(', ')}; their tasks would be created unassigned`,
        );
    });
  }

  // Properties the criteria read ---------------------------------------------------------------------------
  for (const [property, usedAt] of criteriaProperties(playbook)) {
    if (!byName.has(property) && !WRITTEN_BACK_PROPERTIES.some((d) => d.name === property))
      report.missingProperties.push({ property, usedAt });
  }

  if (report.missingProperties.length) await checkSensitive(call, report, grantedScopes ?? null);

  report.ok =
    report.mismatches.length === 0 &&
    report.missingProperties.length === 0 &&
    report.unreadableProperties.length === 0;
  return report;
}

/**
 * HubSpot lists Sensitive Data properties only when asked by `dataSensitivity` (schema needs no sensitive scope),
 * so a criteria property "missing" from the ordinary list may be one. Readable with SENSITIVE_READ_SCOPE when
 * the level is `sensitive`; `highly_sensitive` never (Stagekeeper does not ask for that scope).
 */
async function checkSensitive(
  call: PortalCaller['call'],
  report: ProvisionReport,
  grantedScopes: readonly string[] | null,
): Promise<void> {
  const levels = ['sensitive', 'highly_sensitive'] as const;
  const found = new Map<string, (typeof levels)[number]>();
  for (const level of levels) {
    // The client's property list has no `dataSensitivity` parameter.
    const list = await call(`properties.list.${level}`, (c) =>
      getJson<{ results?: HubSpotProperty[] }>(c, `/crm/v3/properties/${OBJECT}?dataSensitivity=${level}`),
    );
    for (const p of list.results ?? []) found.set(p.name, level);
  }
  const canRead = grantedScopes === null || grantedScopes.includes(SENSITIVE_READ_SCOPE);
  report.missingProperties = report.missingProperties.filter(({ property, usedAt }) => {
    const sensitivity = found.get(property);
    if (!sensitivity) return true;
    if (sensitivity === 'highly_sensitive')
      report.unreadableProperties.push({
        property,
        usedAt,
        sensitivity,
        fix: 'Highly Sensitive Data cannot be read by Stagekeeper: use another property, or lower its sensitivity to Sensitive',
      });
    else if (!canRead)
      report.unreadableProperties.push({
        property,
        usedAt,
        sensitivity,
        fix: `reinstall the app and grant the optional scope ${SENSITIVE_READ_SCOPE}`,
      });
    else if (grantedScopes === null)
      report.warnings.push(
        `deal property "${property}" is Sensitive Data: the private app needs the scope ${SENSITIVE_READ_SCOPE} to read it`,
      );
    return false;
  });
}

function toCreate(d: PropertyDefinition) {
  return {
    name: d.name,
    label: d.label,
    description: d.description,
    groupName: d.groupName,
    type: d.type,
    fieldType: d.fieldType,
    ...(d.options ? { options: d.options } : {}),
  };
}

/** Brings an existing property in line with our definition, never dropping options deals may already hold. */
async function reconcile(
  call: PortalCaller['call'],
  d: PropertyDefinition,
  existing: HubSpotProperty,
  report: ProvisionReport,
): Promise<void> {
  if (existing.type !== d.type) {
    // Changing the type of a property that holds data is HubSpot's most destructive edit; a person decides.
    report.mismatches.push(
      `property "${d.name}" exists with type "${existing.type}", Stagekeeper writes "${d.type}": change or delete it in HubSpot`,
    );
    return;
  }
  const changes: string[] = [];
  const update: Record<string, unknown> = {};
  if (existing.label !== d.label) {
    update.label = d.label;
    changes.push('label');
  }
  if ((existing.description ?? '') !== d.description) {
    update.description = d.description;
    changes.push('description');
  }
  if (existing.groupName !== d.groupName) {
    update.groupName = d.groupName;
    changes.push('group');
  }
  if (existing.fieldType !== d.fieldType) {
    update.fieldType = d.fieldType;
    changes.push('field type');
  }
  if (d.options) {
    const have = new Map((existing.options ?? []).map((o) => [o.value, o]));
    const differs = d.options.some((o) => {
      const h = have.get(o.value);
      return (
        !h ||
        h.label !== o.label ||
        (h.hidden ?? false) !== o.hidden ||
        (h.displayOrder ?? o.displayOrder) !== o.displayOrder
      );
    });
    if (differs) {
      // Options the portal has beyond ours are kept (after ours): deals may carry them, and HubSpot replaces the list.
      const ours = new Set(d.options.map((o) => o.value));
      const extra = (existing.options ?? [])
        .filter((o) => !ours.has(o.value))
        .map((o, i) => ({
          label: o.label,
          value: o.value,
          displayOrder: d.options!.length + i,
          hidden: o.hidden ?? false,
        }));
      update.options = [...d.options, ...extra];
      changes.push('options');
    }
  }
  if (changes.length === 0) {
    if (!report.existing.includes(d.name) && !report.created.includes(d.name)) report.existing.push(d.name);
    return;
  }
  await call('properties.update', (c) => c.crm.properties.coreApi.update(OBJECT, d.name, update as never));
  report.updated.push({ name: d.name, changes });
}

const quoteList = (items: Array<{ id: string; label: string }>) =>
  items.length ? items.map((i) => `"${i.id}" (${i.label})`).join(', ') : 'nothing';

function checkPipelines(playbook: Playbook, portal: HubSpotPipeline[], report: ProvisionReport): void {
  const live = portal.filter((p) => !p.archived);
  playbook.pipelines.forEach((pl, pi) => {
    const found = live.find((p) => p.id === pl.id);
    if (!found) {
      const sameLabel = live.find((p) => p.label.trim().toLowerCase() === pl.label.trim().toLowerCase());
      report.mismatches.push(
        `pipeline "${pl.id}" (playbook pipelines[${pi}], label "${pl.label}") not found in the portal` +
          (sameLabel
            ? `; a pipeline labelled "${sameLabel.label}" has id "${sameLabel.id}": use that id`
            : '') +
          `; the portal has: ${quoteList(live)}`,
      );
      return;
    }
    const stages = found.stages.filter((s) => !s.archived);
    pl.stages.forEach((st, si) => {
      const s = stages.find((x) => x.id === st.id);
      const where = `pipelines[${pi}].stages[${si}], label "${st.label}"`;
      if (!s) {
        const sameLabel = stages.find((x) => x.label.trim().toLowerCase() === st.label.trim().toLowerCase());
        report.mismatches.push(
          `stage "${st.id}" (${where}) not in pipeline "${pl.id}"` +
            (sameLabel
              ? `; a stage labelled "${sameLabel.label}" has id "${sameLabel.id}": use that id`
              : '') +
            `; the portal has: ${quoteList(stages)}`,
        );
        return;
      }
      if (s.label !== st.label)
        report.warnings.push(`stage "${st.id}" (${where}) is labelled "${s.label}" in the portal`);
      const isClosed = s.metadata?.isClosed === 'true';
      if (isClosed !== st.closed)
        report.warnings.push(
          `stage "${st.id}" (${where}) is ${isClosed ? '' : 'not '}closed in HubSpot but ${st.closed ? '' : 'not '}closed in the playbook`,
        );
    });
    const unmanaged = stages.filter((s) => !pl.stages.some((st) => st.id === s.id));
    if (unmanaged.length)
      report.warnings.push(
        `pipeline "${pl.id}" has stages the playbook does not cover: ${quoteList(unmanaged)}`,
      );
  });
}

/** Every deal property a playbook's criteria or actions name, with where (playbook paths). */
export function criteriaProperties(playbook: Playbook): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const { property, at } of propertyUses(playbook))
    out.set(property, [...(out.get(property) ?? []), at]);
  return out;
}

/** Plain-text report for the CLI. Pure. */
export function formatProvisionReport(r: ProvisionReport): string {
  const lines: string[] = [];
  lines.push(`Property group "${PROPERTY_GROUP.name}": ${r.group === 'exists' ? 'already there' : r.group}`);
  const list = (title: string, names: string[]) => {
    if (names.length) lines.push(`${title} (${names.length}): ${names.join(', ')}`);
  };
  list('Created', r.created);
  list('Already there', r.existing);
  if (r.updated.length) {
    lines.push(`Updated (${r.updated.length}):`);
    r.updated.forEach((u) => lines.push(`  - ${u.name}: ${u.changes.join(', ')}`));
  }
  if (r.mismatches.length) {
    lines.push(`Mismatches (${r.mismatches.length}):`);
    r.mismatches.forEach((m) => lines.push(`  ✗ ${m}`));
  }
  if (r.missingProperties.length) {
    lines.push(`Deal properties the playbook reads but the portal lacks (${r.missingProperties.length}):`);
    r.missingProperties.forEach((m) => lines.push(`  ✗ "${m.property}" used at ${m.usedAt.join(', ')}`));
  }
  if (r.unreadableProperties.length) {
    lines.push(
      `Sensitive Data properties the playbook reads but Stagekeeper may not read (${r.unreadableProperties.length}):`,
    );
    r.unreadableProperties.forEach((m) =>
      lines.push(`  ✗ "${m.property}" (${m.sensitivity}) used at ${m.usedAt.join(', ')}: ${m.fix}`),
    );
  }
  if (r.warnings.length) {
    lines.push(`Warnings (${r.warnings.length}):`);
    r.warnings.forEach((w) => lines.push(`  ! ${w}`));
  }
  lines.push(
    r.ok ? 'OK: the portal matches the playbook.' : 'NOT READY: fix the items marked ✗ and run again.',
  );
  return lines.join('\n');
}
