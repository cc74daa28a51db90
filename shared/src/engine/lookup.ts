import type { Pipeline, Playbook, Role, Stage } from '../playbook/schema';

export type StageRef = { pipeline: Pipeline; stage: Stage; index: number };

/** Stage ids are unique across a playbook (HubSpot's are portal-wide), so a stage id alone finds it. */
export function findStage(playbook: Playbook, stageId: string | null | undefined): StageRef | undefined {
  if (!stageId) return undefined;
  for (const pipeline of playbook.pipelines) {
    const index = pipeline.stages.findIndex((s) => s.id === stageId);
    if (index >= 0) return { pipeline, stage: pipeline.stages[index]!, index };
  }
  return undefined;
}

/** The stage only counts as managed when it sits in the pipeline HubSpot says the deal is in. */
export function findManagedStage(
  playbook: Playbook,
  pipelineId: string | null,
  stageId: string | null,
): StageRef | undefined {
  const ref = findStage(playbook, stageId);
  return ref && ref.pipeline.id === pipelineId ? ref : undefined;
}

export function findRole(playbook: Playbook, roleId: string): Role | undefined {
  return playbook.roles.find((r) => r.id === roleId);
}
