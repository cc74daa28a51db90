import type { PipelineStore } from './pipelines';

/** Names of the per-stage history properties HubSpot keeps for every deal stage (facts §5, v2 form). */
export const stageHistoryProperties = (stageId: string) => ({
  entered: `hs_v2_date_entered_${stageId}`,
  exited: `hs_v2_date_exited_${stageId}`,
  latest: `hs_v2_latest_time_in_${stageId}`,
  cumulative: `hs_v2_cumulative_time_in_${stageId}`,
});

/**
 * Writes what HubSpot calculates when dealstage changes. `from` is undefined on create. Returns the names it
 * touched so callers can report them as changed.
 */
export function applyStageChange(
  props: Map<string, string>,
  from: string | undefined,
  to: string,
  at: number,
  pipelines: PipelineStore,
): string[] {
  const iso = new Date(at).toISOString();
  const touched: string[] = [];
  const set = (k: string, v: string) => {
    props.set(k, v);
    touched.push(k);
  };
  if (from) {
    const h = stageHistoryProperties(from);
    set(h.exited, iso);
    const enteredAt = Date.parse(props.get(h.entered) ?? '');
    if (!Number.isNaN(enteredAt)) {
      const spent = Math.max(0, at - enteredAt);
      set(h.latest, String(spent));
      set(h.cumulative, String(Number(props.get(h.cumulative) ?? '0') + spent));
    }
  }
  set(stageHistoryProperties(to).entered, iso);
  set('hs_v2_date_entered_current_stage', iso);
  const stage = pipelines.stage(to);
  if (stage) {
    const closed = stage.metadata.isClosed === 'true';
    set('hs_is_closed', String(closed));
    set('hs_is_closed_won', String(closed && Number(stage.metadata.probability) === 1));
    set('hs_deal_stage_probability', stage.metadata.probability);
  }
  return touched;
}
