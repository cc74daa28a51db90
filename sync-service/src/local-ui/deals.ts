import { buildCardView, reportingZone, taskZone, type Playbook } from '@stagekeeper/shared';
import type { LocalUiSource } from './source';

/** One deal's live SLA timer as the page shows it: ids, playbook labels and times only, no deal properties. */
export type DealRow = {
  dealId: string;
  stage: string;
  role: string;
  /** running | paused | warning | breached | met | … or "unmanaged" / "pending" when there is no stored visit. */
  status: string;
  target: string | null;
  /** Share of the target at which the owner is warned (the playbook's warningAt), for the progress bar's mark. */
  warnPct: number | null;
  elapsedMs: number | null;
  remainingMs: number | null;
  dueAt: string | null;
  /** IANA zone the stage's times are told in (its SLA calendar's): the page labels due times with it. */
  zone: string;
  warningAt: string | null;
  breachedAt: string | null;
  gate: { status: string; missing: string[]; blockedTo: string | null } | null;
  breaches: number;
};

export const MAX_DEALS = 200;

const stageOf = (playbook: Playbook | null, id: string) =>
  playbook?.pipelines.flatMap((p) => p.stages).find((s) => s.id === id);

export async function dealRows(
  src: LocalUiSource,
): Promise<{ now: string; zone: string; speed: number; deals: DealRow[] }> {
  const now = src.clock();
  const ids = src.dealIds().slice(0, MAX_DEALS);
  const [current, loaded] = await Promise.all([
    src.playbooks.current(src.portalId),
    src.states.loadMany(src.portalId, ids),
  ]);
  const playbook = current?.playbook ?? null;
  const deals = ids.map((dealId, i): DealRow => {
    const state = loaded[i]?.state ?? null;
    // No snapshot: the page must not read deal properties, and the SLA clock lives in the stored state anyway.
    const view = buildCardView({ dealId, playbook, state, snapshot: null, now });
    if (!view.managed) {
      return {
        dealId,
        stage: '',
        role: '',
        status: view.reason === 'not_found' ? 'pending' : 'unmanaged',
        target: null,
        warnPct: null,
        elapsedMs: null,
        remainingMs: null,
        dueAt: null,
        zone: reportingZone(playbook ?? undefined),
        warningAt: null,
        breachedAt: null,
        gate: null,
        breaches: 0,
      };
    }
    const sla = view.sla;
    return {
      dealId,
      stage: view.stage.label,
      role: view.ownerRole.name,
      status: sla?.status ?? 'no_sla',
      target: sla?.target ?? null,
      warnPct: sla ? (stageOf(playbook, view.stage.id)?.sla?.warningAt ?? null) : null,
      elapsedMs: sla?.elapsedMs ?? null,
      remainingMs: sla?.remainingMs ?? null,
      dueAt: sla?.dueAt ?? null,
      zone: playbook ? taskZone(playbook, stageOf(playbook, view.stage.id)?.sla?.calendar) : 'UTC',
      warningAt: sla?.warningAt ?? null,
      breachedAt: sla?.breachedAt ?? null,
      gate:
        view.gate.status === 'clear'
          ? null
          : {
              status: view.gate.status,
              missing: view.gate.missing,
              blockedTo: view.gate.blockedTo?.label ?? null,
            },
      breaches: state?.breachCount ?? 0,
    };
  });
  return {
    now: new Date(now).toISOString(),
    zone: reportingZone(playbook ?? undefined),
    speed: src.speed,
    deals,
  };
}
