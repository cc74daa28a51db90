import type { PlaybookDoc, SlaDoc, StageDoc } from '@stagekeeper/app-client/api';

export type StageEdit = {
  ownerRole?: string;
  sla?: Partial<Pick<SlaDoc, 'target' | 'warningAt' | 'calendar'>>;
};

/** Returns a new playbook with one stage changed; every other field is shared, not copied or dropped. */
export function editStage(p: PlaybookDoc, pi: number, si: number, edit: StageEdit): PlaybookDoc {
  return {
    ...p,
    pipelines: p.pipelines.map((pl, i) =>
      i !== pi
        ? pl
        : {
            ...pl,
            stages: pl.stages.map((s, j): StageDoc => {
              if (j !== si) return s;
              const next: StageDoc = {
                ...s,
                ...(edit.ownerRole !== undefined ? { ownerRole: edit.ownerRole } : {}),
              };
              if (edit.sla && s.sla) next.sla = { ...s.sla, ...edit.sla };
              return next;
            }),
          },
    ),
  };
}
