import { notFound, validationError } from './errors';

export type StageSeed = { id: string; label: string; isClosed?: boolean; probability?: number };
export type PipelineSeed = { id: string; label: string; displayOrder?: number; stages: StageSeed[] };

export type Stage = {
  id: string;
  label: string;
  displayOrder: number;
  metadata: { isClosed: string; probability: string };
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  writePermissions: 'CRM_PERMISSIONS_ENFORCEMENT';
};
export type Pipeline = {
  id: string;
  label: string;
  displayOrder: number;
  stages: Stage[];
  createdAt: string;
  updatedAt: string;
  archived: boolean;
};

/** HubSpot's out-of-the-box deal pipeline; a fresh portal has it. Ids are the widely observed ones (facts §5). */
export const DEFAULT_PIPELINE: PipelineSeed = {
  id: 'default',
  label: 'Sales Pipeline',
  displayOrder: 0,
  stages: [
    { id: 'appointmentscheduled', label: 'Appointment Scheduled', probability: 0.2 },
    { id: 'qualifiedtobuy', label: 'Qualified To Buy', probability: 0.4 },
    { id: 'presentationscheduled', label: 'Presentation Scheduled', probability: 0.6 },
    { id: 'decisionmakerboughtin', label: 'Decision Maker Bought-In', probability: 0.8 },
    { id: 'contractsent', label: 'Contract Sent', probability: 0.9 },
    { id: 'closedwon', label: 'Closed Won', isClosed: true, probability: 1 },
    { id: 'closedlost', label: 'Closed Lost', isClosed: true, probability: 0 },
  ],
};

export class PipelineStore {
  private readonly pipelines = new Map<string, Pipeline>();

  constructor(private readonly now: () => number) {}

  /** Adds or replaces a pipeline. Stage ids are unique across a portal's deal pipelines, so reuse is refused. */
  seed(seed: PipelineSeed, onStage: (stageId: string) => void): Pipeline {
    if (!seed.id || !seed.label || !seed.stages?.length)
      throw validationError('A pipeline needs an id, a label and at least one stage');
    for (const s of seed.stages) {
      const owner = this.pipelineOfStage(s.id);
      if (owner && owner.id !== seed.id)
        throw validationError(`Stage id ${s.id} is already used by pipeline ${owner.id}`);
      if (s.probability !== undefined && (s.probability < 0 || s.probability > 1))
        throw validationError(`Stage ${s.id}: probability must be between 0.0 and 1.0`);
    }
    const at = new Date(this.now()).toISOString();
    const pipeline: Pipeline = {
      id: seed.id,
      label: seed.label,
      displayOrder: seed.displayOrder ?? this.pipelines.size,
      createdAt: at,
      updatedAt: at,
      archived: false,
      stages: seed.stages.map((s, i) => ({
        id: s.id,
        label: s.label,
        displayOrder: i,
        metadata: {
          isClosed: String(Boolean(s.isClosed)),
          probability: String(
            s.probability ??
              (s.isClosed ? 1 : Math.min(0.9, Math.round(((i + 1) * 10) / (seed.stages.length + 1)) / 10)),
          ),
        },
        createdAt: at,
        updatedAt: at,
        archived: false,
        writePermissions: 'CRM_PERMISSIONS_ENFORCEMENT',
      })),
    };
    this.pipelines.set(pipeline.id, pipeline);
    pipeline.stages.forEach((s) => onStage(s.id));
    return pipeline;
  }

  list(): Pipeline[] {
    return [...this.pipelines.values()].sort((a, b) => a.displayOrder - b.displayOrder);
  }

  has(id: string): boolean {
    return this.pipelines.has(id);
  }

  get(id: string): Pipeline {
    const p = this.pipelines.get(id);
    if (!p) throw notFound(`Unable to find pipeline ${id} for object type 0-3`);
    return p;
  }

  find(id: string): Pipeline | undefined {
    return this.pipelines.get(id);
  }

  pipelineOfStage(stageId: string): Pipeline | undefined {
    return [...this.pipelines.values()].find((p) => p.stages.some((s) => s.id === stageId));
  }

  stage(stageId: string): Stage | undefined {
    return this.pipelineOfStage(stageId)?.stages.find((s) => s.id === stageId);
  }

  defaultPipeline(): Pipeline | undefined {
    return this.pipelines.get('default') ?? this.list()[0];
  }
}
