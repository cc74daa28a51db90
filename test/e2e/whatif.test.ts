import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HistoryRow, type WhatIfReport } from '@stagekeeper/shared';
import { runCaptured } from '@stagekeeper/sync-service/cli/testing';
import { TELEHEALTH } from '@stagekeeper/sync-service/demo/playbook';
import { createLogger } from '@stagekeeper/sync-service/log';
import { HistoryStore } from '@stagekeeper/sync-service/state/history-store';
import { redisKeys } from '@stagekeeper/sync-service/state/keys';
import { REDIS_URL, startE2E, type E2E } from './harness';

const S = TELEHEALTH.stages;
const REP = '52841907';
const MIN = 60_000;
/** The sandbox portal's id (the stack always has one in sandbox mode). */
const portal = (): string => {
  const id = e.stack.portalId;
  if (!id) throw new Error('the e2e stack has no portal id');
  return id;
};

let e: E2E;
let dir: string;
let draftFile: string;
const ids = { urgentSlow: '', routineSlow: '', routineFast: '', urgentRunning: '' };

/**
 * The draft drops New Lead's "urgent: 5m" override, so urgent leads get the default 15 minutes. Visits are made by
 * the real worker through the sandbox portal; the what-if over them must flip exactly the urgent visit that took
 * 10 minutes (breached at 5, met within 15).
 */
beforeAll(async () => {
  e = await startE2E();
  dir = mkdtempSync(join(tmpdir(), 'sk-h16-'));
  const draft = structuredClone(e.playbook);
  const lead = draft.pipelines[0]!.stages.find((s) => s.id === S.newLead)!;
  lead.sla!.overrides = [];
  draftFile = join(dir, 'draft.json');
  writeFileSync(draftFile, JSON.stringify(draft));

  const create = (urgency: string) =>
    e.portal.ui.createDeal(
      {
        dealname: 'What-if',
        pipeline: TELEHEALTH.pipeline,
        dealstage: S.newLead,
        hubspot_owner_id: REP,
        urgency,
      },
      { userId: Number(REP) },
    ).id;
  ids.urgentSlow = create('urgent');
  ids.routineSlow = create('routine');
  ids.routineFast = create('routine');
  await e.settle();
  const leave = async (id: string) => {
    e.portal.ui.logContactAttempt(id, { userId: Number(REP) });
    e.portal.ui.moveDeal(id, S.contactAttempted, { userId: Number(REP) });
    await e.settle();
  };
  await e.advance(4 * MIN);
  await leave(ids.routineFast);
  await e.advance(6 * MIN);
  await leave(ids.urgentSlow);
  await e.advance(10 * MIN);
  await leave(ids.routineSlow);
  // A visit still running: the repair preview moves its due time by the 10 minutes the draft adds.
  ids.urgentRunning = create('urgent');
  await e.settle();
}, 120_000);

afterAll(async () => {
  await e?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function historyRows(): Promise<HistoryRow[]> {
  const redis = new Redis(REDIS_URL);
  try {
    return await new HistoryStore(redis, redisKeys(e.prefix), createLogger('silent')).readWeek(
      portal(),
      e.clock.now(),
    );
  } finally {
    await redis.quit();
  }
}

function expectFlipAndRepair(report: WhatIfReport) {
  expect(report.flipped.map((f) => [f.dealId, f.from, f.to])).toEqual([[ids.urgentSlow, 'breached', 'met']]);
  const lead = report.byStage.find((s) => s.stage.id === S.newLead)!;
  expect(lead.visits).toBe(3);
  expect(lead.current.breached).toBe(2);
  expect(lead.draft.breached).toBe(1);
  expect(lead.draft.unknown).toBe(0);
  const move = report.repair.moves.find((m) => m.dealId === ids.urgentRunning)!;
  expect(move.toDueAt! - move.fromDueAt!).toBe(10 * MIN);
}

describe('what-if over visits the worker recorded', () => {
  it('the worker records the inputs that decided each visit: the urgency value and the pause record, nothing else', async () => {
    const rows = (await historyRows()).filter((r) => r.stage === S.newLead);
    expect(rows.map((r) => r.dealId).sort()).toEqual(
      [ids.urgentSlow, ids.routineSlow, ids.routineFast].sort(),
    );
    const byDeal = new Map(rows.map((r) => [r.dealId, r]));
    expect(byDeal.get(ids.urgentSlow)!.slaOutcome).toBe('breached');
    expect(byDeal.get(ids.routineFast)!.slaOutcome).toBe('met');
    expect(byDeal.get(ids.urgentSlow)!.inputs!.entry.props.urgency).toBe('urgent');
    expect(byDeal.get(ids.routineSlow)!.inputs!.entry.props.urgency).toBe('routine');
    for (const r of rows) {
      expect(r.inputs!.pauses).toEqual([]);
      // Deal names never get in: only enumeration-compared properties are kept.
      expect(JSON.stringify(r.inputs)).not.toContain('What-if');
    }
  });

  it('stagekeeper playbook whatif prints the flip and the repair preview', async () => {
    const env = { REDIS_URL, KEY_PREFIX: e.prefix };
    const args = ['playbook', 'whatif', draftFile, '--portal', portal(), '--weeks', '1'];
    const json = await runCaptured([...args, '--format', 'json'], env, {}, e.clock.now());
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    expectFlipAndRepair(JSON.parse(json.stdout) as WhatIfReport);
    const table = await runCaptured(args, env, {}, e.clock.now());
    expect(table.stdout).toContain(`deal ${ids.urgentSlow} in New Lead: breached -> met`);
    expect(table.stdout).toMatch(/New Lead\s+3\s+66\.7%\s+33\.3%/);
    const bad = await runCaptured([...args.slice(0, -1), '0'], env, {}, e.clock.now());
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--weeks');
    // --at replays as of another instant: an hour before the visits there is nothing to replay.
    const before = new Date(e.clock.now() - 2 * 3_600_000).toISOString();
    const early = await runCaptured([...args, '--format', 'json', '--at', before], env, {}, e.clock.now());
    expect((JSON.parse(early.stdout) as WhatIfReport).totals.visits).toBe(0);
    const vague = await runCaptured([...args, '--at', 'yesterday'], env, {}, e.clock.now());
    expect(vague.code).toBe(1);
    expect(vague.stderr).toContain('--at');
  });

  it('the settings API answers the same preview, and refuses an invalid draft with the issue path', async () => {
    const draft = JSON.parse((await import('node:fs')).readFileSync(draftFile, 'utf8')) as unknown;
    const res = await signedPost('/api/settings/whatif', { playbook: draft, weeks: 1 });
    expect(res.status).toBe(200);
    expectFlipAndRepair((await res.json()) as WhatIfReport);
    const broken = structuredClone(draft) as { pipelines: { stages: { sla?: { target: string } }[] }[] };
    broken.pipelines[0]!.stages[0]!.sla!.target = 'soon';
    const bad = await signedPost('/api/settings/whatif', { playbook: broken });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { code: string; issues: { path: (string | number)[] }[] } };
    expect(body.error.code).toBe('invalid_playbook');
    expect(body.error.issues[0]!.path).toEqual(['pipelines', 0, 'stages', 0, 'sla', 'target']);
    const badWeeks = await signedPost('/api/settings/whatif', { playbook: draft, weeks: 0 });
    expect(badWeeks.status).toBe(400);
    expect(((await badWeeks.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    // A portal with no playbook in force has nothing to compare the draft with.
    const none = await signedPost('/api/settings/whatif', { playbook: draft }, '99999');
    expect(none.status).toBe(404);
    const unsigned = await fetch(`${e.stack.service.url}/api/settings/whatif?portalId=${portal()}`, {
      method: 'POST',
      body: '{}',
    });
    expect(unsigned.status).toBe(401);
  });
});

/** What hubspot.fetch sends: portal and user appended to the URL, the whole URL signed with v3. */
async function signedPost(path: string, payload: unknown, portalId = portal()) {
  const url = `${e.stack.service.url}${path}?userId=1001&userEmail=admin%40clinic.test&appId=1&portalId=${portalId}`;
  const body = JSON.stringify(payload);
  const ts = String(e.clock.now());
  const sig = createHmac('sha256', e.portal.clientSecret)
    .update(`POST${url.replace('%40', '@')}${body}${ts}`)
    .digest('base64');
  return fetch(url, {
    method: 'POST',
    headers: {
      'X-HubSpot-Signature-v3': sig,
      'X-HubSpot-Request-Timestamp': ts,
      'Content-Type': 'application/json',
    },
    body,
  });
}
