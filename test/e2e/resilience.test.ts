import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadExamplePlaybook, P } from '@stagekeeper/shared';
import { startSandbox } from '@stagekeeper/sync-service/sandbox-mode';
import { manualClock } from '../sandbox/index';
import { MONDAY_9AM_NY, startE2E, type E2E } from './harness';

const PIPELINE = '812404417';
const NEW_LEAD = '1180512201';
const CONTACT_ATTEMPTED = '1180512202';
const INTAKE_STARTED = '1180512203';
const REP = '52841907';

let e: E2E | undefined;
afterEach(async () => {
  await e?.close();
  e = undefined;
});

/** A deal the rep creates in New Lead, owning it. */
const newLead = (x: E2E, dealname: string): string =>
  x.portal.ui.createDeal(
    { dealname, pipeline: PIPELINE, dealstage: NEW_LEAD, hubspot_owner_id: REP },
    { userId: Number(REP) },
  ).id;

/** Walks `n` deals New Lead -> Contact Attempted -> Intake Started (2 transitions each, all gates satisfied). */
async function walk(x: E2E, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(newLead(x, `Deal ${i}`));
  }
  await x.settle();
  for (const id of ids) {
    x.portal.ui.logContactAttempt(id, { userId: Number(REP) });
    x.portal.ui.moveDeal(id, CONTACT_ATTEMPTED, { userId: Number(REP) });
  }
  await x.settle();
  for (const id of ids) x.portal.ui.moveDeal(id, INTAKE_STARTED, { userId: Number(REP) });
  await x.settle();
  return ids;
}

/** Every stage entry got exactly one SLA task, and only the current entry's tasks are open. */
function assertOneTaskPerEntry(x: E2E, id: string): void {
  const stage = x.props(id).dealstage!;
  const sla = x.tasks(id).filter((t) => t.key.endsWith(':sla'));
  const byEntry = new Map<string, number>();
  for (const t of sla) {
    const entry = t.key.slice(0, -':sla'.length);
    byEntry.set(entry, (byEntry.get(entry) ?? 0) + 1);
  }
  expect(
    [...byEntry.values()].every((n) => n === 1),
    `duplicate SLA task on deal ${id}`,
  ).toBe(true);
  // New Lead, Contact Attempted, Intake Started: three entries, three SLA tasks.
  expect(byEntry.size).toBe(3);
  const open = x.openTasks(id).filter((t) => t.key.endsWith(':sla'));
  expect(open).toHaveLength(1);
  expect(open[0]!.key).toContain(`:${stage}:`);
}

describe('webhook faults', () => {
  it('duplicated and reordered deliveries still end in exactly one task per stage entry', async () => {
    e = await startE2E();
    e.portal.setFaults({ duplicateRate: 0.5, reorder: true, seed: 7 });
    const ids = await walk(e, 8);
    // Count first-attempt deliveries of an event id seen before: the injected duplicates.
    const seen = new Set<number>();
    let dupes = 0;
    for (const d of e.portal.webhooks.deliveries.filter((d) => d.attemptNumber === 0))
      for (const id of d.eventIds) {
        if (seen.has(id)) dupes++;
        else seen.add(id);
      }
    expect(dupes).toBeGreaterThan(5);
    for (const id of ids) {
      expect(e.props(id).dealstage).toBe(INTAKE_STARTED);
      assertOneTaskPerEntry(e, id);
    }
  });

  it('dropped deliveries are recovered by the sweep', async () => {
    e = await startE2E();
    const id = newLead(e, 'D');
    await e.settle();
    e.portal.setFaults({ dropRate: 1, seed: 3 });
    e.portal.ui.logContactAttempt(id, { userId: Number(REP) });
    e.portal.ui.moveDeal(id, CONTACT_ATTEMPTED, { userId: Number(REP) });
    await e.settle();
    expect(e.portal.webhooks.dropped.length).toBeGreaterThan(0);
    // Nothing reached the service: the old stage task is still open, no new-stage tasks yet.
    expect(e.openTasks(id).every((t) => t.key.includes(`:${NEW_LEAD}:`))).toBe(true);

    e.portal.setFaults({ dropRate: 0 });
    await e.stack.service.sweepQueue.runOnce();
    await e.settle();
    expect(
      e.openTasks(id).some((t) => t.key.includes(`:${CONTACT_ATTEMPTED}:`) && t.key.endsWith(':sla')),
    ).toBe(true);
    expect(e.props(id)[P.stageOwnerRole]).toBe('growth_ops');
  });
});

describe('a deal deleted while its webhooks were lost', () => {
  // A deleted deal is not among the sweep's modified deals (CRM search finds only live ones): before the audit
  // of tracked deals, its open SLA task stayed in the rep's queue and its timers stayed armed until one fired.
  it("has its tasks closed and timers cancelled by the sweep's audit of tracked deals", async () => {
    e = await startE2E();
    const id = newLead(e, 'D');
    // A deal nobody deletes: the audit reads it too and leaves it as it is.
    const kept = newLead(e, 'K');
    await e.settle();
    const timersOf = async (dealId: string) =>
      (await e!.stack.service.timerQueue.list()).filter((t) => t.dealId === dealId);
    expect(e.openTasks(id).some((t) => t.key.endsWith(':sla'))).toBe(true);
    expect(await timersOf(id)).not.toEqual([]);

    e.portal.setFaults({ dropRate: 1, seed: 3 });
    e.portal.ui.deleteDeal(id, { userId: Number(REP) });
    await e.settle();
    expect(e.portal.webhooks.dropped.length).toBeGreaterThan(0);
    e.portal.setFaults({ dropRate: 0 });
    // Nothing reached the service: the deleted deal's task is open, its timers armed.
    expect(e.openTasks(id).length).toBeGreaterThan(0);

    const keptTasks = e.tasks(kept);
    await e.stack.service.sweepQueue.runOnce();
    await e.settle();
    expect(e.openTasks(id)).toEqual([]);
    expect(await timersOf(id)).toEqual([]);
    expect(e.tasks(kept)).toEqual(keptTasks);
    expect(await timersOf(kept)).not.toEqual([]);
  });
});

describe('restarts', () => {
  it('a service restart mid-flight loses nothing', async () => {
    e = await startE2E();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(newLead(e, `R${i}`));
    // Stop while deliveries and reconciles are in flight; HubSpot retries what the stopped service refused.
    await new Promise((r) => setTimeout(r, 15));
    await e.restart();
    await e.settle();
    for (const id of ids) {
      const sla = e.tasks(id).filter((t) => t.key.endsWith(':sla'));
      expect(sla, `deal ${id}`).toHaveLength(1);
      expect(e.props(id)[P.slaStatus]).toBe('running');
    }
  });
});

describe('request log', () => {
  it('HUBSPOT_REQUEST_LOG receives every HubSpot call as a JSON line', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'sk-reqlog-')), 'requests.jsonl');
    const clock = manualClock(MONDAY_9AM_NY);
    const playbook = loadExamplePlaybook('telehealth');
    const sandbox = await startSandbox({ playbook, now: clock.now, requestLog: file });
    e = await startE2E({ clock, playbook, sandbox });
    const before = e.portal.requests.length;
    const id = newLead(e, 'L');
    await e.settle();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { method: string; url: string });
    expect(lines.length).toBe(e.portal.requests.length);
    expect(lines.every((l) => typeof l.method === 'string' && l.url.startsWith('/'))).toBe(true);
    // One deal's entry writes exactly one task create and one deal update; under load a second reconcile may
    // add reads (coalescing is time-based), never writes.
    const entryCalls = e.portal.requests.slice(before);
    const writes = entryCalls.filter((r) => r.method !== 'GET' && !/\/batch\/read$|\/search$/.test(r.path));
    expect(writes.map((r) => `${r.method} ${r.path}`).sort()).toEqual([
      `PATCH /crm/v3/objects/deals/${id}`,
      'POST /crm/v3/objects/tasks/batch/create',
    ]);
  });
});
