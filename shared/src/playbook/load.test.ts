import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { EXAMPLE_PLAYBOOKS } from './examples';
import {
  formatPlaybookErrors,
  parsePlaybook,
  renderPlaybookPath,
  validatePlaybook,
  type PlaybookError,
} from './load';
import { loadPlaybookFile } from './load-file';

type Obj = Record<string, any>;

/** Small but complete: four stages so stages[3] carries an SLA with an escalation ladder. */
const base = (): Obj => ({
  schemaVersion: 1,
  name: 'Test playbook',
  calendars: [
    { id: 'office', timeZone: 'America/New_York', hours: { mon: [{ start: '09:00', end: '17:00' }] } },
  ],
  roles: [{ id: 'intake', name: 'Intake', owners: ['101'], lead: '100' }],
  pipelines: [
    {
      id: 'p1',
      label: 'Intake',
      stages: [
        { id: 's0', label: 'New', ownerRole: 'intake', sla: { target: '15m', calendar: 'office' } },
        {
          id: 's1',
          label: 'Contacted',
          ownerRole: 'intake',
          requiredActions: [{ id: 'call', subject: 'Call' }],
          exitCriteria: [{ op: 'taskDone', task: 'call' }],
        },
        {
          id: 's2',
          label: 'Review',
          ownerRole: 'intake',
          gate: { onBlocked: 'remediate', stage: 's3' },
          entryCriteria: [{ op: 'present', property: 'intake_summary' }],
        },
        {
          id: 's3',
          label: 'Fix',
          ownerRole: 'intake',
          sla: {
            target: '4h',
            calendar: 'office',
            escalations: [
              { at: 75, actions: [{ type: 'taskForLead' }] },
              { at: 150, actions: [{ type: 'reassignToLead' }] },
            ],
          },
        },
      ],
    },
  ],
});

const stage = (p: Obj, i: number): Obj => p.pipelines[0].stages[i];
/** Errors with their paths written as the CLI shows them, so expectations read like what an author sees. */
const shown = (errors: PlaybookError[]) => errors.map((e) => ({ ...e, path: renderPlaybookPath(e.path) }));
const withoutLines = (errors: PlaybookError[]) =>
  shown(errors).map(({ path, message }) => ({ path, message }));

const CRITERION_OPS =
  '"present", "equals", "notEquals", "oneOf", "gt", "gte", "lt", "lte", "dateBefore", "dateAfter", "inFuture", "taskDone"';
const STAGE_KEYS =
  'id, label, ownerRole, entryCriteria, exitCriteria, requiredActions, sla, gate, breachReasons, closed, closureReasons, closedLost';

const INVALID: [string, (p: Obj) => void, string, string][] = [
  [
    'bad duration',
    (p) => (stage(p, 3).sla.target = '4 hrs'),
    'pipelines[0].stages[3].sla.target',
    'expected a duration like "4h" or "15m", got "4 hrs"',
  ],
  [
    'unknown role',
    (p) => (stage(p, 1).ownerRole = 'nurse'),
    'pipelines[0].stages[1].ownerRole',
    'unknown role "nurse" (known: "intake")',
  ],
  [
    'unknown SLA calendar',
    (p) => (stage(p, 0).sla.calendar = 'weekend'),
    'pipelines[0].stages[0].sla.calendar',
    'unknown calendar "weekend" (known: "office")',
  ],
  [
    'unknown role calendar',
    (p) => (p.roles[0].calendar = 'weekend'),
    'roles[0].calendar',
    'unknown calendar "weekend" (known: "office")',
  ],
  [
    'unknown remediation stage',
    (p) => (stage(p, 2).gate.stage = 's9'),
    'pipelines[0].stages[2].gate.stage',
    'unknown remediation stage "s9" in pipeline "p1"',
  ],
  [
    'bad time zone',
    (p) => (p.calendars[0].timeZone = 'America/Springfield'),
    'calendars[0].timeZone',
    'expected an IANA time zone like "America/New_York", got "America/Springfield"',
  ],
  [
    'unknown key',
    (p) => (p.calendars[0].colour = 'blue'),
    'calendars[0].colour',
    'unknown key "colour"; allowed here: id, timeZone, hours, holidays, holidaySet',
  ],
  [
    'misspelt key (the missing real key is not reported twice)',
    (p) => {
      stage(p, 0).owner_role = stage(p, 0).ownerRole;
      delete stage(p, 0).ownerRole;
    },
    'pipelines[0].stages[0].owner_role',
    `unknown key "owner_role" (did you mean "ownerRole"?); allowed here: ${STAGE_KEYS}`,
  ],
  [
    "unknown key inside a criterion lists that criterion's keys",
    (p) => (stage(p, 2).entryCriteria[0].value = 'x'),
    'pipelines[0].stages[2].entryCriteria[0].value',
    'unknown key "value"; allowed here: op, property, label',
  ],
  [
    'bad criterion op',
    (p) => (stage(p, 2).entryCriteria[0].op = 'exists'),
    'pipelines[0].stages[2].entryCriteria[0].op',
    `expected one of ${CRITERION_OPS}, got "exists"`,
  ],
  [
    'missing criterion op',
    (p) => delete stage(p, 2).entryCriteria[0].op,
    'pipelines[0].stages[2].entryCriteria[0].op',
    `missing: expected one of ${CRITERION_OPS}`,
  ],
  [
    'bad escalation action',
    (p) => (stage(p, 3).sla.escalations[0].actions[0].type = 'page'),
    'pipelines[0].stages[3].sla.escalations[0].actions[0].type',
    'expected one of "notifyOwner", "taskForLead", "reassignToLead", "setProperty", got "page"',
  ],
  [
    'taskDone naming an unknown task',
    (p) => (stage(p, 1).exitCriteria[0].task = 'email'),
    'pipelines[0].stages[1].exitCriteria[0].task',
    'unknown task "email": name one of this stage\'s requiredActions',
  ],
  [
    'taskDone as an entry criterion',
    (p) => (stage(p, 1).entryCriteria = [{ op: 'taskDone', task: 'call' }]),
    'pipelines[0].stages[1].entryCriteria[0].op',
    'taskDone is only possible in exitCriteria: a stage creates its tasks on entry',
  ],
  [
    'duplicate stage id',
    (p) => (stage(p, 1).id = 's0'),
    'pipelines[0].stages[1].id',
    'duplicate stage id "s0"',
  ],
  [
    'non-increasing escalation levels',
    (p) => (stage(p, 3).sla.escalations[1].at = 75),
    'pipelines[0].stages[3].sla.escalations[1].at',
    'escalation levels must be in increasing order of "at": expected more than 75, got 75',
  ],
  ['missing required key', (p) => delete p.roles[0].lead, 'roles[0].lead', 'missing: expected a string'],
  [
    'unquoted numeric id',
    (p) => (stage(p, 0).id = 1180512201),
    'pipelines[0].stages[0].id',
    'expected a string, got 1180512201 (write it in quotes: "1180512201")',
  ],
  [
    'empty stage list',
    (p) => (p.pipelines[0].stages = []),
    'pipelines[0].stages',
    'expected at least 1 item, got none',
  ],
  ['empty name', (p) => (p.name = ''), 'name', 'expected a non-empty string, got ""'],
  ['wrong schemaVersion', (p) => (p.schemaVersion = 2), 'schemaVersion', 'expected 1, got 2'],
  [
    'bad enum',
    (p) => (stage(p, 1).requiredActions[0].type = 'SMS'),
    'pipelines[0].stages[1].requiredActions[0].type',
    'expected one of "CALL", "EMAIL", "TODO", got "SMS"',
  ],
  [
    'hours neither 24/7 nor weekly',
    (p) => (p.calendars[0].hours = '24x7'),
    'calendars[0].hours',
    'expected "24/7" or an object, got "24x7"',
  ],
  [
    'bad date inside the holiday union',
    (p) => (p.calendars[0].holidays = [{ date: '2026-13-01', name: 'Nope' }]),
    'calendars[0].holidays[0].date',
    'expected a real calendar date, got "2026-13-01"',
  ],
  [
    'bad clock time',
    (p) => (p.calendars[0].hours.mon[0].end = '5pm'),
    'calendars[0].hours.mon[0].end',
    'expected a time like "08:00" or "24:00", got "5pm"',
  ],
  [
    'escalation beyond range',
    (p) => (stage(p, 3).sla.escalations[1].at = 2000),
    'pipelines[0].stages[3].sla.escalations[1].at',
    'expected a number <= 1000, got 2000',
  ],
  [
    'role without owners or teams',
    (p) => (p.roles[0].owners = []),
    'roles[0]',
    'a role needs at least one owner or team',
  ],
  [
    'business SLA without calendar',
    (p) => delete stage(p, 0).sla.calendar,
    'pipelines[0].stages[0].sla.calendar',
    'a business-time SLA needs a calendar',
  ],
  [
    'closed stage with an SLA',
    (p) => (stage(p, 3).closed = true),
    'pipelines[0].stages[3].sla',
    'a closed stage cannot have an SLA',
  ],
  [
    'stage as its own remediation',
    (p) => (stage(p, 2).gate.stage = 's2'),
    'pipelines[0].stages[2].gate.stage',
    'a stage cannot be its own remediation stage',
  ],
  // Checks added to schema.ts alongside the loader:
  [
    'impossible holiday date',
    (p) => (p.calendars[0].holidays = ['2026-02-30']),
    'calendars[0].holidays[0]',
    'expected a real calendar date, got "2026-02-30"',
  ],
  [
    'malformed holiday date reported once',
    (p) => (p.calendars[0].holidays = ['2026-2-3']),
    'calendars[0].holidays[0]',
    'expected a local date like "2026-12-25", got "2026-2-3"',
  ],
  [
    'unknown holiday country',
    (p) => (p.calendars[0].holidaySet = { country: 'UK' }),
    'calendars[0].holidaySet.country',
    'unknown holiday country "UK" (date-holidays has no such code)',
  ],
  [
    'unknown holiday state',
    (p) => (p.calendars[0].holidaySet = { country: 'GB', state: 'XYZ' }),
    'calendars[0].holidaySet.state',
    'unknown holiday state "XYZ" for GB (known: ALD, ENG, NIR, SCT, WLS)',
  ],
  [
    'calendar never staffed',
    (p) => (p.calendars[0].hours = {}),
    'calendars[0].hours',
    'a calendar needs at least one staffed interval (or "24/7")',
  ],
  [
    'interval starting at 24:00',
    (p) => (p.calendars[0].hours.tue = [{ start: '24:00', end: '06:00' }]),
    'calendars[0].hours.tue[0].start',
    'an interval cannot start at "24:00": start the next day at "00:00"',
  ],
  [
    'business-time override on a calendar-time SLA without calendar',
    (p) =>
      (stage(p, 0).sla = {
        target: '1d',
        basis: 'calendar',
        overrides: [
          { when: [{ op: 'equals', property: 'urgency', value: 'urgent' }], target: '2h', basis: 'business' },
        ],
      }),
    'pipelines[0].stages[0].sla.overrides[0].basis',
    "a business-time override needs the SLA's calendar",
  ],
  [
    'date comparison without an offset',
    (p) =>
      (stage(p, 2).entryCriteria[0] = {
        op: 'dateBefore',
        property: 'care_start_date',
        value: '2026-03-01T09:00',
      }),
    'pipelines[0].stages[2].entryCriteria[0].value',
    'expected an ISO date like "2026-03-01" or a date-time with an offset like "2026-03-01T09:00:00Z", got "2026-03-01T09:00"',
  ],
];

describe('parsePlaybook: invalid playbooks', () => {
  it('accepts the base playbook the table mutates', () => {
    const r = parsePlaybook(JSON.stringify(base()), 'json');
    expect(r.ok ? 'ok' : formatPlaybookErrors(r.errors)).toBe('ok');
  });

  describe.each([
    ['json', (p: Obj) => JSON.stringify(p, null, 2)],
    ['yaml', (p: Obj) => stringify(p)],
  ] as const)('as %s', (format, serialize) => {
    it.each(INVALID)('%s', (_name, mutate, path, message) => {
      const p = base();
      mutate(p);
      const r = parsePlaybook(serialize(p), format);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(withoutLines(r.errors)).toEqual([{ path, message }]);
      expect(r.errors[0]!.line).toBeGreaterThan(0);
    });
  });

  it('finds an unknown key inside the weekly-hours union (and the calendar it leaves empty)', () => {
    const p = base();
    p.calendars[0].hours = { monday: [{ start: '09:00', end: '17:00' }] };
    const r = parsePlaybook(stringify(p), 'yaml');
    expect(r.ok ? null : withoutLines(r.errors)).toEqual([
      { path: 'calendars[0].hours', message: 'a calendar needs at least one staffed interval (or "24/7")' },
      {
        path: 'calendars[0].hours.monday',
        message:
          'unknown key "monday" (did you mean "mon"?); allowed here: mon, tue, wed, thu, fri, sat, sun',
      },
    ]);
  });

  it('reports every independent problem, not just the first, in line order', () => {
    const p = base();
    stage(p, 3).sla.target = '4 hrs';
    p.calendars[0].colour = 'blue';
    const r = parsePlaybook(JSON.stringify(p), 'json');
    expect(r.ok ? [] : r.errors.map((e) => renderPlaybookPath(e.path))).toEqual([
      'calendars[0].colour',
      'pipelines[0].stages[3].sla.target',
    ]);
  });

  it('a document that is not an object is a top-level error', () => {
    const r = parsePlaybook('just a sentence', 'yaml');
    expect(r.ok ? null : withoutLines(r.errors)).toEqual([
      { path: '', message: 'expected the playbook to be an object, got "just a sentence"' },
    ]);
  });

  it('an empty document is a top-level error', () => {
    const r = parsePlaybook('  \n# only a comment\n', 'yaml');
    expect(r.ok ? null : r.errors.map((e) => renderPlaybookPath(e.path))).toEqual(['']);
  });
});

describe('parsePlaybook: syntax errors come back as errors with a line', () => {
  it('YAML', () => {
    const text = 'schemaVersion: 1\nname: Test\ncalendars:\n  - id: office\n   timeZone: UTC\n';
    const r = parsePlaybook(text, 'yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(shown(r.errors)[0]).toMatchObject({ path: '', line: 5 });
    expect(r.errors[0]!.message).toMatch(/^YAML syntax error: /);
  });

  it('YAML duplicate keys', () => {
    const r = parsePlaybook('schemaVersion: 1\nname: A\nname: B\n', 'yaml');
    expect(r.ok ? null : shown(r.errors)).toEqual([
      { path: '', line: 3, message: 'YAML syntax error: Map keys must be unique' },
    ]);
  });

  it('JSON', () => {
    const r = parsePlaybook('{\n  "schemaVersion": 1,\n  "name": "x",\n}\n', 'json');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(1);
    expect(shown(r.errors)[0]).toMatchObject({ path: '', line: 4 });
    expect(r.errors[0]!.message).toMatch(/^JSON syntax error: /);
  });
});

describe('parsePlaybook: line numbers', () => {
  const telehealth = readFileSync(EXAMPLE_PLAYBOOKS.telehealth, 'utf8');
  const lines = telehealth.split('\n');
  /** 1-based number of the only line containing `needle`. */
  const lineOf = (needle: string, text = telehealth) => {
    const hits = text.split('\n').flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
    expect(hits, `"${needle}" should occur exactly once`).toHaveLength(1);
    return hits[0]!;
  };
  const errorsOf = (text: string) => {
    const r = parsePlaybook(text, 'yaml', 'telehealth-intake.yaml');
    expect(r.ok).toBe(false);
    return r.ok ? [] : shown(r.errors);
  };

  it('points a bad value at its own line', () => {
    const text = telehealth.replace('          target: 8h\n', '          target: 4 hrs\n');
    expect(errorsOf(text)).toEqual([
      {
        path: 'pipelines[0].stages[3].sla.target',
        message: 'expected a duration like "4h" or "15m", got "4 hrs"',
        line: lineOf('target: 4 hrs', text),
        source: 'telehealth-intake.yaml',
      },
    ]);
  });

  it('points a value inside a flow mapping at its line', () => {
    const text = telehealth.replace(
      'op: oneOf, property: clinical_risk_level',
      'op: anyOf, property: clinical_risk_level',
    );
    const [e] = errorsOf(text);
    expect(e).toMatchObject({
      path: 'pipelines[0].stages[5].entryCriteria[2].op',
      line: lineOf('op: anyOf', text),
    });
  });

  it('points an unknown key at the key', () => {
    const at = lineOf('label: Started Care');
    const text = [...lines.slice(0, at), '        colour: green', ...lines.slice(at)].join('\n');
    const [e] = errorsOf(text);
    expect(e).toMatchObject({ path: 'pipelines[0].stages[7].colour', line: at + 1 });
  });

  it('points a missing key at the object that lacks it', () => {
    const text = telehealth.replace('    lead: "70315510"\n', '');
    const [e] = errorsOf(text);
    expect(e).toMatchObject({
      path: 'roles[2].lead',
      message: 'missing: expected a string',
      line: lineOf('- id: clinical_ops', text),
    });
  });

  it('points a cross-reference error at the referring value', () => {
    const text = telehealth.replace(
      'ownerRole: patient_success\n        requiredActions:\n          - { id: checkin_30d',
      'ownerRole: success_team\n        requiredActions:\n          - { id: checkin_30d',
    );
    const [e] = errorsOf(text);
    expect(e?.path).toBe('pipelines[0].stages[8].ownerRole');
    expect(e?.line).toBe(lineOf('ownerRole: success_team', text));
  });

  it('points at the anchor when the bad value is reused through an alias', () => {
    const text =
      'schemaVersion: 1\nname: x\ncalendars:\n  - &cal\n    id: c\n    timeZone: Mars/Base\n    hours: "24/7"\nroles: []\npipelines: []\n';
    const r = parsePlaybook(text, 'yaml');
    expect(
      r.ok ? [] : r.errors.find((e) => renderPlaybookPath(e.path) === 'calendars[0].timeZone')?.line,
    ).toBe(6);
  });

  it('gives JSON input line numbers too', () => {
    const p = base();
    p.calendars[0].timeZone = 'America/Springfield';
    const text = JSON.stringify(p, null, 2);
    const r = parsePlaybook(text, 'auto');
    expect(r.ok ? null : shown(r.errors)).toEqual([
      {
        path: 'calendars[0].timeZone',
        message: 'expected an IANA time zone like "America/New_York", got "America/Springfield"',
        line: lineOf('"timeZone"', text),
      },
    ]);
  });
});

describe('parsePlaybook: formats', () => {
  it('reads JSON and YAML of the same playbook to the same result', () => {
    const fromJson = parsePlaybook(JSON.stringify(base()), 'json');
    const fromYaml = parsePlaybook(stringify(base()), 'yaml');
    expect(fromJson.ok && fromYaml.ok).toBe(true);
    expect(fromJson).toEqual(fromYaml);
  });

  it('auto-detects JSON text and fills defaults', () => {
    const r = parsePlaybook(JSON.stringify(base()));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.playbook.version).toBe(1);
    expect(r.playbook.pipelines[0]!.gate).toEqual({ onBlocked: 'revert' });
    expect(r.playbook.pipelines[0]!.stages[0]!.sla).toMatchObject({
      basis: 'business',
      warningAt: 75,
      overrides: [],
    });
  });

  it('takes the format from the source name when there is one', () => {
    // A JSON-looking YAML flow mapping with a comment is valid YAML but not JSON.
    const text = '{ "schemaVersion": 1 } # comment';
    const asJson = parsePlaybook(text, 'auto', 'x.json');
    const asYaml = parsePlaybook(text, 'auto', 'x.yaml');
    expect(asJson.ok ? '' : asJson.errors[0]!.message).toMatch(/^JSON syntax error/);
    expect(asYaml.ok ? '' : asYaml.errors[0]!.message).toBe('missing: expected a string');
  });
});

describe('validatePlaybook', () => {
  it('gives decoded values (a request body) the same errors, without lines', () => {
    const p = base();
    stage(p, 3).sla.target = '4 hrs';
    const r = validatePlaybook(p);
    expect(r.ok ? r : { ok: r.ok, errors: shown(r.errors) }).toEqual({
      ok: false,
      errors: [
        {
          path: 'pipelines[0].stages[3].sla.target',
          message: 'expected a duration like "4h" or "15m", got "4 hrs"',
        },
      ],
    });
    expect(r.ok ? null : r.errors[0]!.path).toEqual(['pipelines', 0, 'stages', 3, 'sla', 'target']);
    expect(validatePlaybook(base()).ok).toBe(true);
  });
});

describe('loadPlaybookFile and formatPlaybookErrors', () => {
  it('loads a JSON file and reports errors with file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stagekeeper-playbook-'));
    const file = join(dir, 'broken.json');
    const p = base();
    stage(p, 3).sla.target = '4 hrs';
    p.roles[0].calendar = 'weekend';
    writeFileSync(file, JSON.stringify(p, null, 2));
    const r = loadPlaybookFile(file);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = readFileSync(file, 'utf8').split('\n');
    const line = (needle: string) => text.findIndex((l) => l.includes(needle)) + 1;
    expect(formatPlaybookErrors(r.errors)).toBe(
      [
        `${file}:${line('"weekend"')}: roles[0].calendar: unknown calendar "weekend" (known: "office")`,
        `${file}:${line('"4 hrs"')}: pipelines[0].stages[3].sla.target: expected a duration like "4h" or "15m", got "4 hrs"`,
      ].join('\n'),
    );
  });

  it('formats errors without line or path', () => {
    expect(
      formatPlaybookErrors(
        [
          { path: [], message: 'expected a playbook, got an empty document' },
          { path: ['roles', 0, 'lead'], message: 'missing: expected a string', line: 7 },
        ],
        'draft.yaml',
      ),
    ).toBe(
      'draft.yaml: expected a playbook, got an empty document\ndraft.yaml:7: roles[0].lead: missing: expected a string',
    );
  });

  it('reports an unreadable file as an error, not a throw', () => {
    const r = loadPlaybookFile(join(tmpdir(), 'stagekeeper-no-such-dir', 'missing.yaml'));
    expect(r.ok ? null : shown(r.errors)).toEqual([
      {
        path: '',
        message: 'cannot read the file (ENOENT)',
        source: join(tmpdir(), 'stagekeeper-no-such-dir', 'missing.yaml'),
      },
    ]);
  });
});

it('an unknown YAML tag is an error at its line, not a warning on stderr', () => {
  const r = parsePlaybook('schemaVersion: 1\nname: !custom x\n', 'yaml');
  expect(r.ok ? r : { ok: r.ok, errors: shown(r.errors) }).toEqual({
    ok: false,
    errors: [{ path: '', message: 'YAML error: Unresolved tag: !custom', line: 2 }],
  });
});
