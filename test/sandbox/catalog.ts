import { conflict, notFound, validationError } from './errors';

export type ObjectType = 'deals' | 'tasks' | 'notes';

/** Path segments HubSpot accepts for each object type: plural name, singular, and the object type id. */
const TYPE_ALIASES: Record<string, ObjectType> = {
  deals: 'deals',
  deal: 'deals',
  '0-3': 'deals',
  tasks: 'tasks',
  task: 'tasks',
  '0-27': 'tasks',
  notes: 'notes',
  note: 'notes',
  '0-46': 'notes',
};
export const OBJECT_TYPE_IDS: Record<ObjectType, string> = { deals: '0-3', tasks: '0-27', notes: '0-46' };
/** Singular upper-case names HubSpot uses in batch error messages ("Could not get some DEAL objects"). */
export const OBJECT_LABEL: Record<ObjectType, string> = { deals: 'DEAL', tasks: 'TASK', notes: 'NOTE' };

export function resolveObjectType(segment: string): ObjectType {
  const t = TYPE_ALIASES[segment.toLowerCase()];
  if (!t) throw validationError(`Unable to infer object type from: ${segment}`);
  return t;
}

export const PROPERTY_TYPES = [
  'bool',
  'date',
  'datetime',
  'enumeration',
  'number',
  'phone_number',
  'string',
] as const;
export const FIELD_TYPES = [
  'booleancheckbox',
  'calculation_equation',
  'checkbox',
  'date',
  'file',
  'html',
  'number',
  'phonenumber',
  'radio',
  'select',
  'text',
  'textarea',
] as const;
/** Which field types HubSpot lets each data type use; a mismatch is refused on create. */
const COMPATIBLE: Record<string, readonly string[]> = {
  string: ['text', 'textarea', 'html', 'file', 'phonenumber'],
  number: ['number', 'calculation_equation'],
  date: ['date'],
  datetime: ['date'],
  enumeration: ['select', 'radio', 'checkbox', 'booleancheckbox'],
  bool: ['booleancheckbox'],
  phone_number: ['phonenumber'],
};

export type Option = {
  label: string;
  value: string;
  displayOrder: number;
  hidden: boolean;
  description?: string;
};

export type PropertyDef = {
  name: string;
  label: string;
  type: string;
  fieldType: string;
  description: string;
  groupName: string;
  options: Option[];
  displayOrder: number;
  calculated: boolean;
  externalOptions: boolean;
  hasUniqueValue: boolean;
  hidden: boolean;
  hubspotDefined?: boolean;
  formField: boolean;
  modificationMetadata: { archivable: boolean; readOnlyDefinition: boolean; readOnlyValue: boolean };
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  /** Sensitive Data (Enterprise, HIPAA): values need the `*.sensitive.read.v2` scope; absent = non_sensitive. */
  dataSensitivity?: 'sensitive' | 'highly_sensitive';
};

export type PropertyGroup = { name: string; label: string; displayOrder: number; archived: boolean };

type BuiltIn = [
  name: string,
  type: string,
  fieldType: string,
  group: string,
  opts?: { readOnly?: boolean; options?: string[]; external?: boolean },
];

const DEAL_BUILT_INS: BuiltIn[] = [
  ['dealname', 'string', 'text', 'dealinformation'],
  ['dealstage', 'enumeration', 'radio', 'dealinformation', { external: true }],
  ['pipeline', 'enumeration', 'select', 'dealinformation', { external: true }],
  ['hubspot_owner_id', 'enumeration', 'select', 'dealinformation', { external: true }],
  ['hubspot_team_id', 'enumeration', 'select', 'dealinformation', { readOnly: true, external: true }],
  ['amount', 'number', 'number', 'dealinformation'],
  ['closedate', 'datetime', 'date', 'dealinformation'],
  ['createdate', 'datetime', 'date', 'dealinformation'],
  ['description', 'string', 'textarea', 'dealinformation'],
  ['dealtype', 'enumeration', 'radio', 'dealinformation', { options: ['newbusiness', 'existingbusiness'] }],
  ['hs_priority', 'enumeration', 'select', 'dealinformation', { options: ['low', 'medium', 'high'] }],
  ['hs_next_step', 'string', 'textarea', 'dealinformation'],
  ['closed_lost_reason', 'string', 'textarea', 'dealinformation'],
  ['hs_lastmodifieddate', 'datetime', 'date', 'dealinformation', { readOnly: true }],
  ['hs_object_id', 'number', 'number', 'dealinformation', { readOnly: true }],
  ['hs_is_closed', 'bool', 'booleancheckbox', 'dealinformation', { readOnly: true }],
  ['hs_is_closed_won', 'bool', 'booleancheckbox', 'dealinformation', { readOnly: true }],
  ['hs_deal_stage_probability', 'number', 'number', 'dealinformation', { readOnly: true }],
  ['hs_merged_object_ids', 'enumeration', 'checkbox', 'dealinformation', { readOnly: true }],
  ['hs_v2_date_entered_current_stage', 'datetime', 'date', 'dealstages', { readOnly: true }],
  ['hs_v2_time_in_current_stage', 'number', 'number', 'dealstages', { readOnly: true }],
  ['num_contacted_notes', 'number', 'number', 'deal_activity', { readOnly: true }],
  ['num_notes', 'number', 'number', 'deal_activity', { readOnly: true }],
  ['notes_last_contacted', 'datetime', 'date', 'deal_activity', { readOnly: true }],
  ['notes_last_updated', 'datetime', 'date', 'deal_activity', { readOnly: true }],
];

const ENGAGEMENT_BASE: BuiltIn[] = [
  ['hs_timestamp', 'datetime', 'date', 'engagement'],
  ['hubspot_owner_id', 'enumeration', 'select', 'engagement', { external: true }],
  ['hs_createdate', 'datetime', 'date', 'engagement', { readOnly: true }],
  ['hs_lastmodifieddate', 'datetime', 'date', 'engagement', { readOnly: true }],
  ['hs_object_id', 'number', 'number', 'engagement', { readOnly: true }],
];

const TASK_BUILT_INS: BuiltIn[] = [
  ...ENGAGEMENT_BASE,
  ['hs_task_subject', 'string', 'text', 'task'],
  ['hs_task_body', 'string', 'html', 'task'],
  [
    'hs_task_status',
    'enumeration',
    'select',
    'task',
    { options: ['NOT_STARTED', 'IN_PROGRESS', 'WAITING', 'COMPLETED', 'DEFERRED'] },
  ],
  ['hs_task_priority', 'enumeration', 'select', 'task', { options: ['NONE', 'LOW', 'MEDIUM', 'HIGH'] }],
  [
    'hs_task_type',
    'enumeration',
    'select',
    'task',
    { options: ['EMAIL', 'CALL', 'TODO', 'LINKED_IN', 'MEETING'] },
  ],
  ['hs_task_reminders', 'string', 'text', 'task'],
  ['hs_task_completion_date', 'datetime', 'date', 'task', { readOnly: true }],
  ['hs_queue_membership_ids', 'enumeration', 'checkbox', 'task', { external: true }],
];

const NOTE_BUILT_INS: BuiltIn[] = [
  ...ENGAGEMENT_BASE,
  ['hs_note_body', 'string', 'html', 'note'],
  ['hs_attachment_ids', 'enumeration', 'checkbox', 'note', { external: true }],
];

const BUILT_INS: Record<ObjectType, BuiltIn[]> = {
  deals: DEAL_BUILT_INS,
  tasks: TASK_BUILT_INS,
  notes: NOTE_BUILT_INS,
};
const BUILT_IN_GROUPS: Record<ObjectType, [string, string][]> = {
  deals: [
    ['dealinformation', 'Deal information'],
    ['deal_activity', 'Deal activity'],
    ['dealstages', 'Deal stage history'],
  ],
  tasks: [
    ['engagement', 'Engagement'],
    ['task', 'Task information'],
  ],
  notes: [
    ['engagement', 'Engagement'],
    ['note', 'Note information'],
  ],
};

const label = (name: string) =>
  name
    .replace(/^hs_/, '')
    .replace(/_/g, ' ')
    .replace(/^./, (c) => c.toUpperCase());

/**
 * Property definitions and groups for one object type. Stage-history properties are added per stage when a
 * pipeline is seeded, because HubSpot creates them with the stage, not on first use.
 */
export class PropertyCatalog {
  private readonly props = new Map<string, PropertyDef>();
  private readonly groups = new Map<string, PropertyGroup>();

  constructor(
    readonly objectType: ObjectType,
    private readonly now: () => number,
  ) {
    const at = new Date(0).toISOString();
    BUILT_IN_GROUPS[objectType].forEach(([name, lbl], i) =>
      this.groups.set(name, { name, label: lbl, displayOrder: i, archived: false }),
    );
    for (const [name, type, fieldType, group, opts] of BUILT_INS[objectType]) {
      this.props.set(name, {
        name,
        label: label(name),
        type,
        fieldType,
        description: '',
        groupName: group,
        options: (opts?.options ?? []).map((value, displayOrder) => ({
          label: label(value.toLowerCase()),
          value,
          displayOrder,
          hidden: false,
        })),
        displayOrder: -1,
        calculated: Boolean(opts?.readOnly),
        externalOptions: Boolean(opts?.external),
        hasUniqueValue: false,
        hidden: false,
        hubspotDefined: true,
        formField: !opts?.readOnly,
        modificationMetadata: {
          archivable: false,
          readOnlyDefinition: true,
          readOnlyValue: Boolean(opts?.readOnly),
        },
        createdAt: at,
        updatedAt: at,
        archived: false,
      });
    }
  }

  get(name: string): PropertyDef | undefined {
    return this.props.get(name);
  }

  list(): PropertyDef[] {
    return [...this.props.values()];
  }

  listGroups(): PropertyGroup[] {
    return [...this.groups.values()];
  }

  getGroup(name: string): PropertyGroup {
    const g = this.groups.get(name);
    if (!g)
      throw notFound(
        `Unable to find property group ${name} for object type ${OBJECT_TYPE_IDS[this.objectType]}`,
      );
    return g;
  }

  /** An admin turning a property into Sensitive Data (Settings → Properties → "Sensitive data"). */
  markSensitive(name: string, level: 'sensitive' | 'highly_sensitive' = 'sensitive'): void {
    const p = this.props.get(name);
    if (!p) throw notFound(`Unable to find property ${name}`);
    p.dataSensitivity = level;
  }

  /** Calculated, read-only datetime/number properties HubSpot maintains itself (stage history). */
  addSystemProperty(name: string, type: 'datetime' | 'number', group: string): void {
    if (this.props.has(name)) return;
    const at = new Date(this.now()).toISOString();
    this.props.set(name, {
      name,
      label: label(name),
      type,
      fieldType: type === 'datetime' ? 'date' : 'number',
      description: '',
      groupName: group,
      options: [],
      displayOrder: -1,
      calculated: true,
      externalOptions: false,
      hasUniqueValue: false,
      hidden: false,
      hubspotDefined: true,
      formField: false,
      modificationMetadata: { archivable: false, readOnlyDefinition: true, readOnlyValue: true },
      createdAt: at,
      updatedAt: at,
      archived: false,
    });
  }

  createGroup(input: unknown): PropertyGroup {
    const g = input as Partial<PropertyGroup> | null;
    const missing = ['name', 'label'].filter(
      (k) => typeof (g as Record<string, unknown> | null)?.[k] !== 'string',
    );
    if (!g || missing.length)
      throw validationError(`Invalid input JSON: missing required field(s) ${missing.join(', ')}`);
    if (!/^[a-z0-9_]+$/.test(g.name!))
      throw validationError(
        `Property group name "${g.name}" must contain only lowercase letters, digits and underscores`,
      );
    if (this.groups.has(g.name!)) throw conflict(`A property group with name ${g.name} already exists.`);
    const group = {
      name: g.name!,
      label: g.label!,
      displayOrder: typeof g.displayOrder === 'number' ? g.displayOrder : -1,
      archived: false,
    };
    this.groups.set(group.name, group);
    return group;
  }

  /** Validates a PropertyCreate the way HubSpot does, then stores it; 409 when the name is taken. */
  create(input: unknown): PropertyDef {
    const p = (input ?? {}) as Record<string, unknown>;
    const missing = ['name', 'label', 'type', 'fieldType', 'groupName'].filter(
      (k) => typeof p[k] !== 'string' || p[k] === '',
    );
    if (missing.length)
      throw validationError(
        `Invalid input JSON on line 1: missing required field(s): ${missing.join(', ')}`,
        {
          errors: missing.map((m) => ({
            message: `Missing required field '${m}'`,
            code: 'REQUIRED_FIELD',
            in: m,
          })),
        },
      );
    const name = p.name as string;
    const type = p.type as string;
    const fieldType = p.fieldType as string;
    if (!(PROPERTY_TYPES as readonly string[]).includes(type))
      throw validationError(`Invalid property type "${type}"; expected one of ${PROPERTY_TYPES.join(', ')}`);
    if (!(FIELD_TYPES as readonly string[]).includes(fieldType))
      throw validationError(`Invalid field type "${fieldType}"; expected one of ${FIELD_TYPES.join(', ')}`);
    if (!COMPATIBLE[type]!.includes(fieldType))
      throw validationError(`Property type ${type} is not compatible with field type ${fieldType}`);
    if (!/^[a-z][a-z0-9_]*$/.test(name))
      throw validationError(
        `Property name "${name}" is invalid: use lowercase letters, digits and underscores, starting with a letter`,
      );
    if (name.startsWith('hs_'))
      throw validationError(`Property name "${name}" uses the reserved prefix "hs_"`);
    if (this.props.has(name))
      throw conflict(`Property already exists: ${name}`, {
        context: { name: [name] },
        subCategory: 'Property.ALREADY_EXISTS',
      });
    if (!this.groups.has(p.groupName as string))
      throw validationError(
        `Property group ${String(p.groupName)} does not exist for object type ${OBJECT_TYPE_IDS[this.objectType]}`,
      );
    const rawOptions = Array.isArray(p.options) ? (p.options as Record<string, unknown>[]) : [];
    if (
      type === 'enumeration' &&
      rawOptions.some((o) => typeof o?.label !== 'string' || typeof o?.value !== 'string')
    )
      throw validationError('Each option needs a string label and value');
    const values = rawOptions.map((o) => o.value as string);
    if (new Set(values).size !== values.length)
      throw validationError(`Duplicate option values for property ${name}`);
    const at = new Date(this.now()).toISOString();
    const def: PropertyDef = {
      name,
      label: p.label as string,
      type,
      fieldType,
      description: typeof p.description === 'string' ? p.description : '',
      groupName: p.groupName as string,
      options: rawOptions.map((o, i) => ({
        label: o.label as string,
        value: o.value as string,
        displayOrder: typeof o.displayOrder === 'number' ? o.displayOrder : i,
        hidden: Boolean(o.hidden),
        ...(typeof o.description === 'string' ? { description: o.description } : {}),
      })),
      displayOrder: typeof p.displayOrder === 'number' ? p.displayOrder : -1,
      calculated: false,
      externalOptions: false,
      hasUniqueValue: Boolean(p.hasUniqueValue),
      hidden: Boolean(p.hidden),
      formField: Boolean(p.formField),
      modificationMetadata: { archivable: true, readOnlyDefinition: false, readOnlyValue: false },
      createdAt: at,
      updatedAt: at,
      archived: false,
    };
    this.props.set(name, def);
    return def;
  }
}
