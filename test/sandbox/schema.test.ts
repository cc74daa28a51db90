import { AssociationSpecAssociationCategoryEnum } from '@hubspot/api-client/lib/codegen/crm/objects/tasks';
import { PROPERTY_GROUP, WRITTEN_BACK_PROPERTIES } from '@stagekeeper/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusal, startSandbox } from './harness';

let sb: Awaited<ReturnType<typeof startSandbox>>;
let hs: ReturnType<typeof sb.client>;
beforeAll(async () => {
  sb = await startSandbox();
  hs = sb.client();
  for (let i = 1; i <= 5; i++)
    sb.portal.seedOwner({
      id: String(700 + i),
      email: `o${i}@clinic.test`,
      firstName: `O${i}`,
      teams: i <= 2 ? [{ id: '42', name: 'Intake nurses' }] : [],
    });
});
afterAll(() => sb.close());

const toDeal = (id: string, typeId = 216) => ({
  to: { id },
  types: [
    { associationCategory: AssociationSpecAssociationCategoryEnum.HubspotDefined, associationTypeId: typeId },
  ],
});

describe('tasks, notes and associations', () => {
  it('creates a task with an inline deal association and reads it back through v4', async () => {
    const deal = sb.portal.ui.createDeal({ dealname: 'Task target' });
    const task = await hs.crm.objects.tasks.basicApi.create({
      properties: {
        hs_timestamp: '2026-03-03T09:00:00Z',
        hs_task_subject: 'Call patient',
        hs_task_type: 'CALL',
        hs_task_priority: 'HIGH',
        hubspot_owner_id: '701',
      },
      associations: [toDeal(deal.id)],
    });
    expect(task.properties).toMatchObject({
      hs_task_status: 'NOT_STARTED',
      hs_timestamp: '2026-03-03T09:00:00.000Z',
    });

    const fromDeal = await hs.crm.associations.v4.basicApi.getPage('deals', deal.id, 'tasks');
    expect(fromDeal.results).toHaveLength(1);
    expect(String(fromDeal.results[0]!.toObjectId)).toBe(task.id);
    expect(fromDeal.results[0]!.associationTypes).toEqual([
      { category: 'HUBSPOT_DEFINED', typeId: 215, label: null },
    ]);

    const done = await hs.crm.objects.tasks.basicApi.update(task.id, {
      properties: { hs_task_status: 'COMPLETED' },
    });
    expect(done.properties.hs_task_completion_date).toBeTruthy();
    const batch = await hs.crm.objects.tasks.batchApi.read({
      inputs: [{ id: task.id }],
      properties: ['hs_task_status'],
      propertiesWithHistory: [],
    });
    expect(batch.results[0]!.properties.hs_task_status).toBe('COMPLETED');
  });

  it('creates notes (214) and links with default and labelled v4 PUTs', async () => {
    const deal = sb.portal.ui.createDeal({ dealname: 'Note target' });
    const note = await hs.crm.objects.notes.basicApi.create({
      properties: { hs_timestamp: String(Date.now()), hs_note_body: 'Left voicemail' },
      associations: [toDeal(deal.id, 214)],
    });
    const task = await hs.crm.objects.tasks.basicApi.create({
      properties: { hs_timestamp: String(Date.now()) },
      associations: [],
    });
    await hs.crm.associations.v4.basicApi.createDefault('tasks', task.id, 'deals', deal.id);
    const labelled = await hs.crm.associations.v4.basicApi.create('notes', note.id, 'deals', deal.id, [
      { associationCategory: 'HUBSPOT_DEFINED' as never, associationTypeId: 214 },
    ]);
    expect(labelled.toObjectTypeId).toBe('0-3');
    const notes = await hs.crm.associations.v4.basicApi.getPage('deals', deal.id, 'notes');
    expect(notes.results.map((r) => String(r.toObjectId))).toEqual([note.id]);
    const tasks = await hs.crm.associations.v4.basicApi.getPage('deals', deal.id, 'tasks');
    expect(tasks.results.map((r) => String(r.toObjectId))).toEqual([task.id]);
  });

  it('takes a merged-away deal id in association calls as its survivor, as reads by that id do', async () => {
    // One record survives a merge: a task created against the merged-away id afterwards (a create decided before
    // the merge) lands on the survivor, and listing the merged-away id's tasks lists the survivor's, so a
    // lookup by the old id still finds a task created before the merge (the chaos suite's duplicate).
    const kept = sb.portal.ui.createDeal({ dealname: 'Survivor' });
    const gone = sb.portal.ui.createDeal({ dealname: 'Merged away' });
    const before = await hs.crm.objects.tasks.basicApi.create({
      properties: { hs_timestamp: '1' },
      associations: [toDeal(gone.id)],
    });
    sb.portal.ui.mergeDeals(kept.id, gone.id);
    const after = await hs.crm.objects.tasks.basicApi.create({
      properties: { hs_timestamp: '2' },
      associations: [toDeal(gone.id)],
    });
    const linked = await hs.crm.objects.tasks.basicApi.create({
      properties: { hs_timestamp: '3' },
      associations: [],
    });
    await hs.crm.associations.v4.basicApi.createDefault('tasks', linked.id, 'deals', gone.id);
    const ofSurvivor = await hs.crm.associations.v4.basicApi.getPage('deals', kept.id, 'tasks');
    expect(ofSurvivor.results.map((r) => String(r.toObjectId))).toEqual([before.id, after.id, linked.id]);
    const ofMerged = await hs.crm.associations.v4.basicApi.getPage('deals', gone.id, 'tasks');
    expect(ofMerged.results.map((r) => String(r.toObjectId))).toEqual([before.id, after.id, linked.id]);
    const fromTask = await hs.crm.associations.v4.basicApi.getPage('tasks', after.id, 'deals');
    expect(fromTask.results.map((r) => String(r.toObjectId))).toEqual([kept.id]);
  });

  it('refuses a task without hs_timestamp, an unknown association type and a missing target', async () => {
    const deal = sb.portal.ui.createDeal({ dealname: 'Refusals' });
    const noTimestamp = await refusal(
      hs.crm.objects.tasks.basicApi.create({ properties: { hs_task_subject: 'x' }, associations: [] }),
    );
    expect(noTimestamp).toMatchObject({ code: 400, body: { category: 'VALIDATION_ERROR' } });
    const wrongType = await refusal(
      hs.crm.objects.tasks.basicApi.create({
        properties: { hs_timestamp: '1' },
        associations: [toDeal(deal.id, 999)],
      }),
    );
    expect(wrongType.code).toBe(400);
    // 214 is note→deal: valid id, wrong direction for a task.
    const wrongDirection = await refusal(
      hs.crm.objects.tasks.basicApi.create({
        properties: { hs_timestamp: '1' },
        associations: [toDeal(deal.id, 214)],
      }),
    );
    expect(wrongDirection.code).toBe(400);
    const ghost = await refusal(
      hs.crm.objects.tasks.basicApi.create({
        properties: { hs_timestamp: '1' },
        associations: [toDeal('123')],
      }),
    );
    expect(ghost.code).toBe(400);
    const badStatus = await refusal(
      hs.crm.objects.tasks.basicApi.create({
        properties: { hs_timestamp: '1', hs_task_status: 'DONE' },
        associations: [],
      }),
    );
    expect(String(badStatus.body.message)).toContain('INVALID_OPTION');
    expect(sb.portal.objects.all('tasks').every((t) => t.props.get('hs_task_subject') !== 'x')).toBe(true);
  });

  it('batch creates tasks with associations', async () => {
    const deal = sb.portal.ui.createDeal({ dealname: 'Batch tasks' });
    const res = await hs.crm.objects.tasks.batchApi.create({
      inputs: [1, 2].map((n) => ({
        properties: { hs_timestamp: String(Date.now() + n), hs_task_subject: `T${n}` },
        associations: [toDeal(deal.id)],
      })),
    });
    expect(res.results).toHaveLength(2);
    expect((await hs.crm.associations.v4.basicApi.getPage('deals', deal.id, 'tasks')).results).toHaveLength(
      2,
    );
  });
});

describe('properties, pipelines and owners', () => {
  it('creates the written-back group and properties (201), and answers 409 on a second create', async () => {
    const group = await hs.crm.properties.groupsApi.create('deals', {
      name: PROPERTY_GROUP.name,
      label: PROPERTY_GROUP.label,
      displayOrder: PROPERTY_GROUP.displayOrder,
    });
    expect(group.name).toBe('stagekeeper');
    const [first, ...rest] = WRITTEN_BACK_PROPERTIES;
    const created = await hs.crm.properties.coreApi.create('deals', first as never);
    expect(created.options.map((o) => o.value)).toContain('running');
    const batch = await hs.crm.properties.batchApi.create('deals', { inputs: rest as never });
    expect(batch.results).toHaveLength(rest.length);

    const again = await refusal(hs.crm.properties.coreApi.create('deals', first as never));
    expect(again).toMatchObject({ code: 409, body: { category: 'CONFLICT' } });
    const groupAgain = await refusal(
      hs.crm.properties.groupsApi.create('deals', { name: 'stagekeeper', label: 'x' }),
    );
    expect(groupAgain.code).toBe(409);

    const read = await hs.crm.properties.coreApi.getByName('deals', 'stagekeeper_sla_status');
    expect(read.type).toBe('enumeration');
    const all = await hs.crm.properties.coreApi.getAll('deals');
    expect(all.results.map((p) => p.name)).toEqual(
      expect.arrayContaining(['dealstage', 'num_contacted_notes', 'stagekeeper_breach_count']),
    );

    // The new properties are enforced like HubSpot's own.
    const deal = sb.portal.ui.createDeal({ dealname: 'Uses custom props' });
    await hs.crm.deals.basicApi.update(deal.id, {
      properties: {
        stagekeeper_sla_status: 'breached',
        stagekeeper_breach_count: '2',
        stagekeeper_sla_due_at: '2026-03-04T10:00:00Z',
      },
    });
    expect(
      (
        await refusal(
          hs.crm.deals.basicApi.update(deal.id, { properties: { stagekeeper_sla_status: 'late' } }),
        )
      ).code,
    ).toBe(400);
    expect(
      (
        await refusal(
          hs.crm.deals.basicApi.update(deal.id, { properties: { stagekeeper_breach_count: 'two' } }),
        )
      ).code,
    ).toBe(400);
  });

  it('refuses malformed property definitions', async () => {
    const base = {
      name: 'x_prop',
      label: 'X',
      type: 'string',
      fieldType: 'text',
      groupName: 'dealinformation',
    };
    for (const bad of [
      { ...base, groupName: 'no_such_group' },
      { ...base, type: 'enumeration', fieldType: 'text' },
      { ...base, name: 'hs_mine' },
      { ...base, label: undefined },
    ])
      expect((await refusal(hs.crm.properties.coreApi.create('deals', bad as never))).code).toBe(400);
  });

  it('lists pipelines and stages with string metadata', async () => {
    sb.portal.seedPipeline({
      id: 'intake',
      label: 'Intake',
      stages: [
        { id: '2001', label: 'New' },
        { id: '2002', label: 'Done', isClosed: true },
      ],
    });
    const all = await hs.crm.pipelines.pipelinesApi.getAll('deals');
    expect(all.results.map((p) => p.id)).toEqual(['default', 'intake']);
    const intake = await hs.crm.pipelines.pipelinesApi.getById('deals', 'intake');
    expect(intake.stages[1]!.metadata).toEqual({ isClosed: 'true', probability: '1' });
    expect((await refusal(hs.crm.pipelines.pipelinesApi.getById('deals', 'nope'))).code).toBe(404);
  });

  it('pages owners and returns their teams', async () => {
    const page1 = await hs.crm.owners.ownersApi.getPage(undefined, undefined, 2);
    expect(page1.results.map((o) => o.id)).toEqual(['701', '702']);
    expect(page1.results[0]!.teams).toEqual([{ id: '42', name: 'Intake nurses', primary: true }]);
    const page2 = await hs.crm.owners.ownersApi.getPage(undefined, page1.paging!.next!.after, 2);
    expect(page2.results.map((o) => o.id)).toEqual(['703', '704']);
    const one = await hs.crm.owners.ownersApi.getById(705);
    expect(one.email).toBe('o5@clinic.test');
    expect((await refusal(hs.crm.owners.ownersApi.getById(9))).code).toBe(404);
  });
});
