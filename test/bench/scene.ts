/**
 * The stage the service benchmarks play on: a sandbox portal in this process (HubSpot, reached over HTTP, its
 * request log the count of calls), deals made and moved the way a rep or an import does (through the portal, so
 * the service hears of it by webhook), and ways to tell that the service has caught up, seen from HubSpot's side.
 */
import { startSandbox, type Sandbox } from '@stagekeeper/sync-service/sandbox-mode';
import {
  CHAOS_GATED,
  CHAOS_OWNERS,
  CHAOS_PIPELINE,
  CHAOS_REMEDIATION,
  CHAOS_STAGES,
} from '../chaos/playbook';
import { sleep } from './common';
import { playbookNamed, type BenchPlaybookName } from './playbook';

/** The stages deals move through: the gated stage (and its remediation stage) would send a deal elsewhere. */
export const STAGES = CHAOS_STAGES.filter((s) => s !== CHAOS_GATED && s !== CHAOS_REMEDIATION);
const MARKER = /\[stagekeeper:([^\]\s]+)\]/;

/**
 * A fresh portal per scenario: a new install's first sweep reconciles recently modified deals of older runs. Its
 * pipeline is the playbook's (the bench and chaos playbooks have the same stages).
 */
export async function withPortal<T>(
  fn: (sandbox: Sandbox) => Promise<T>,
  playbook: BenchPlaybookName = 'bench',
): Promise<T> {
  const sandbox = await startSandbox({ playbook: playbookNamed(playbook) });
  try {
    return await fn(sandbox);
  } finally {
    await sandbox.close();
    sandbox.portal.close();
  }
}

/** Deals made in HubSpot, each with the stage visit the service must open for it. */
export function createDeals(sandbox: Sandbox, n: number, from = 0): Map<string, string> {
  return new Map(newDeals(sandbox, n, from).map((id) => [id, entryOf(sandbox, id)]));
}

/** Deals made in HubSpot in the first stage, owners taken in turn; their ids. */
export function newDeals(sandbox: Sandbox, n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const owner = CHAOS_OWNERS[i % CHAOS_OWNERS.length]!;
    return sandbox.portal.ui.createDeal(
      {
        dealname: `Bench ${i}`,
        pipeline: CHAOS_PIPELINE,
        dealstage: CHAOS_STAGES[0],
        hubspot_owner_id: owner,
      },
      { userId: Number(owner) },
    ).id;
  });
}

/** A HubSpot request as an operation: `POST deals/batch/read`, `PATCH deals/{id}`. */
export const opName = (method: string, path: string) =>
  `${method} ${path
    .replace(/\/\d+/g, '/{id}')
    .replace(/^\/crm\/v\d+\/objects\//, '')
    .replace(/^\/crm\/v\d+\//, '')}`;

/**
 * Moves a deal one stage on, as a rep does in HubSpot; returns the stage visit the service must open. `stages` is
 * the round the deal goes: by default the ungated ones (a gated stage would send the deal to remediation).
 */
export function moveOn(sandbox: Sandbox, dealId: string, stages: readonly string[] = STAGES): string {
  const from = sandbox.portal.objects.get('deals', dealId).props.get('dealstage')!;
  const to = stages[(stages.indexOf(from) + 1) % stages.length]!;
  sandbox.portal.ui.moveDeal(dealId, to, { userId: Number(CHAOS_OWNERS[0]) });
  return entryOf(sandbox, dealId);
}

export const entryOf = (sandbox: Sandbox, dealId: string) => {
  const props = sandbox.portal.objects.get('deals', dealId).props;
  const stage = props.get('dealstage')!;
  return `${dealId}:${stage}:${Date.parse(props.get(`hs_v2_date_entered_${stage}`)!)}`;
};

/** The service's visible work for a stage visit: its SLA task exists in HubSpot. */
export const slaTaskExists = (sandbox: Sandbox, dealId: string, entryId: string) =>
  sandbox.portal.associations
    .ids('deals', dealId, 'tasks')
    .some(
      (t) =>
        MARKER.exec(sandbox.portal.objects.get('tasks', t).props.get('hs_task_body') ?? '')?.[1] ===
        `${entryId}:sla`,
    );

/**
 * Until every moved deal has its new visit's SLA task and HubSpot has heard nothing from the service for `quietMs`
 * (the last write-backs done). Reads the portal only, so it adds no Redis commands to what a bench counts.
 */
export async function quiet(
  sandbox: Sandbox,
  visits: Map<string, string>,
  deadline: number,
  quietMs = 1_000,
  /** Called once every SLA task exists, before the quiet wait (card readers stop here: their calls are not the move's). */
  onTasksDone?: () => Promise<void>,
): Promise<boolean> {
  let tasksDone = false;
  const pending = new Map(visits);
  let seen = sandbox.portal.requests.length;
  let still = Date.now();
  let lastNote = Date.now();
  for (;;) {
    const passStart = performance.now();
    for (const [deal, entry] of pending) if (slaTaskExists(sandbox, deal, entry)) pending.delete(deal);
    const passMs = performance.now() - passStart;
    if (pending.size === 0 && !tasksDone) {
      tasksDone = true;
      await onTasksDone?.();
    }
    const n = sandbox.portal.requests.length;
    if (n !== seen) {
      seen = n;
      still = Date.now();
    }
    if (pending.size === 0 && Date.now() - still >= quietMs) return true;
    if (Date.now() > deadline) {
      const [deal, entry] = [...pending][0] ?? [];
      if (deal)
        process.stderr.write(
          `  gave up: ${pending.size} deals lack their SLA task, e.g. deal ${deal} visit ${entry}; its tasks: ${JSON.stringify(
            sandbox.portal.associations
              .ids('deals', deal, 'tasks')
              .map(
                (t) =>
                  MARKER.exec(sandbox.portal.objects.get('tasks', t).props.get('hs_task_body') ?? '')?.[1],
              ),
          )}\n`,
        );
      return false;
    }
    if (Date.now() - lastNote > 10_000) {
      lastNote = Date.now();
      process.stderr.write(
        `  ... ${pending.size} of ${visits.size} deals without their new SLA task, ${n} HubSpot requests\n`,
      );
    }
    // Each pass looks at every pending deal's tasks: at 50 ms that took ~0.2 of a core from the service under
    // measurement (scale.ts, 2,500 deals). Times come from the request log, so a slower poll costs no accuracy.
    // At least four times the pass: with 10,000 deals pending, passes every 250 ms took 80 % of this process's
    // CPU, and the sandbox portal living in it answered the service's calls 30 s late (issue #18 bulk bench).
    await sleep(Math.max(pending.size > 0 ? 250 : 100, 4 * passMs));
  }
}
