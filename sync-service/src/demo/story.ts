import { P, formatDuration, type Playbook, type Stage } from '@stagekeeper/shared';
import type { Change, SandboxPortal } from '@stagekeeper/test/sandbox/index';

/** What the service has done in the sandbox so far; the demo status endpoint and the quick-start test read it. */
export type DemoCounts = {
  deals: number;
  tasks: number;
  warnings: number;
  breaches: number;
  escalations: number;
  reassignments: number;
  gateBlocks: number;
  slaMet: number;
};

export const emptyCounts = (): DemoCounts => ({
  deals: 0,
  tasks: 0,
  warnings: 0,
  breaches: 0,
  escalations: 0,
  reassignments: 0,
  gateBlocks: 0,
  slaMet: 0,
});

/** HubSpot returns datetimes as ISO strings; the service writes epoch-ms strings. */
const instant = (v: string | undefined) => (v && /^\d+$/.test(v) ? Number(v) : v ? Date.parse(v) : NaN);

const TASK_MARKER = /\[stagekeeper:([^\]\s]+)\]/;
/** How the gateway renames a task it closes because it no longer applies. */
const CANCELLED_PREFIX = '[Cancelled] ';

/**
 * Tells what happens in the sandbox as plain lines: what the demo's reps did and what the service did about it.
 * It reads the portal's change log, so it sees exactly what a HubSpot user would see in the deal's history.
 * Only ids, stage labels, role names, playbook texts and Stagekeeper's own status values are printed; deal
 * properties the reps fill in (names, intake details) are never read.
 */
export class StoryTeller {
  readonly counts = emptyCounts();
  private cursor = 0;
  /** Stage each deal was last dragged to in the UI: a gate block names the move it refused. */
  private readonly attempted = new Map<string, string>();

  constructor(
    private readonly portal: SandboxPortal,
    private readonly playbook: Playbook,
    private readonly write: (line: string) => void,
    private readonly stamp: () => string,
    private readonly now: () => number,
  ) {}

  /** A line about a deal, in the deal's current stage. */
  say(dealId: string, text: string): void {
    const stage = this.portal.objects.find('deals', dealId)?.props.get('dealstage');
    this.write(
      `${this.stamp()} deal ${dealId} · ${stage ? this.stageLabel(stage) : 'unknown stage'} · ${text}`,
    );
  }

  note(text: string): void {
    this.write(`${this.stamp()} ${text}`);
  }

  /** Reads every change since the last call. Tasks created in one go are told on one line per deal. */
  poll(): void {
    const changes = this.portal.changes.slice(this.cursor);
    this.cursor += changes.length;
    const newTasks = new Map<string, string[]>();
    for (const c of changes) {
      if (c.objectType === 'tasks') this.onTask(c, newTasks);
      else if (c.objectType === 'deals') this.onDeal(c);
    }
    for (const [dealId, items] of newTasks) {
      this.say(
        dealId,
        `service created ${items.length === 1 ? 'a task' : `${items.length} tasks`}: ${items.join('; ')}`,
      );
    }
  }

  private onTask(c: Change, out: Map<string, string[]>): void {
    if (c.source.changeSource === 'CRM_UI') return;
    const task = this.portal.objects.find('tasks', c.objectId);
    const key = TASK_MARKER.exec(task?.props.get('hs_task_body') ?? '')?.[1];
    if (!task || !key) return;
    const [dealId, stage] = key.split(':') as [string, string];
    if (c.kind === 'creation') {
      this.counts.tasks++;
      // Subjects are built from the playbook's labels only (see shared/src/engine/tasks.ts), never from deal data.
      const owner = task.props.get('hubspot_owner_id');
      const item = `"${task.props.get('hs_task_subject') ?? 'task'}"${owner ? ` for owner ${owner}` : ''}`;
      out.set(dealId, [...(out.get(dealId) ?? []), item]);
      return;
    }
    // A stage left in time is visible in HubSpot only as its SLA task being completed: the status property moves
    // straight on to the next stage's clock. A cancelled task is closed the same way but renamed (task-closing.ts).
    const closedAsMet =
      c.kind === 'propertyChange' &&
      c.propertyName === 'hs_task_status' &&
      c.propertyValue === 'COMPLETED' &&
      key.endsWith(':sla') &&
      !(task.props.get('hs_task_subject') ?? '').startsWith(CANCELLED_PREFIX);
    if (closedAsMet) {
      this.counts.slaMet++;
      this.write(
        `${this.stamp()} deal ${dealId} · ${this.stageLabel(stage)} · SLA met: the deal left the stage in time; its SLA task is completed`,
      );
    }
  }

  private onDeal(c: Change): void {
    const id = c.objectId;
    if (c.kind === 'creation') {
      this.counts.deals++;
      return;
    }
    if (c.kind !== 'propertyChange') return;
    const byRep = c.source.changeSource === 'CRM_UI';
    if (byRep) {
      if (c.propertyName === 'dealstage') this.attempted.set(id, c.propertyValue);
      return;
    }
    const deal = this.portal.objects.find('deals', id);
    const prop = (name: string) => deal?.props.get(name);
    switch (c.propertyName) {
      case 'dealstage':
        this.say(id, `service moved the deal to ${this.stageLabel(c.propertyValue)}`);
        return;
      case P.gateStatus: {
        if (!c.propertyValue.startsWith('blocked')) return;
        this.counts.gateBlocks++;
        const tried = this.attempted.get(id);
        const missing = prop(P.gateMissing) || 'required items';
        const what =
          c.propertyValue === 'blocked_remediation' ? 'routing it to remediation' : 'reverting the move';
        this.say(
          id,
          `gate blocked the move${tried ? ` to ${this.stageLabel(tried)}` : ''}, ${what}; missing: ${missing}`,
        );
        return;
      }
      case P.slaStatus:
        this.onSlaStatus(id, c.propertyValue, prop);
        return;
      case P.escalationLevel: {
        const level = Number(c.propertyValue);
        if (!(level > 0)) return;
        this.counts.escalations++;
        const stage = this.stageOf(prop('dealstage'));
        const def = stage?.sla?.escalations[level - 1];
        const actions = def
          ? def.actions.map((a) => this.describeAction(a.type, stage!)).join(', ')
          : 'escalated';
        this.say(id, `escalation level ${level}${def ? ` at ${def.at}% of the SLA` : ''}: ${actions}`);
        return;
      }
      case 'hubspot_owner_id': {
        this.counts.reassignments++;
        const role = this.playbook.roles.find((r) => r.lead === c.propertyValue);
        // Routing to the accountable role hands the deal to a member (assignment policy), not only to a lead.
        const member = role
          ? undefined
          : this.playbook.roles.find((r) => r.owners.includes(c.propertyValue ?? ''));
        const whose = role
          ? ` (lead of ${role.name})`
          : member
            ? ` (${member.name}, accountable for the new stage)`
            : '';
        this.say(id, `service reassigned the deal to owner ${c.propertyValue}${whose}`);
        return;
      }
    }
  }

  private onSlaStatus(id: string, status: string, prop: (name: string) => string | undefined): void {
    const stage = this.stageOf(prop('dealstage'));
    const sla = stage?.sla;
    switch (status) {
      case 'running': {
        // The due time, not the playbook's target: a conditional override (urgent leads) may have shortened it.
        const due = instant(prop(P.slaDueAt));
        const left = Number.isFinite(due)
          ? formatDuration(Math.max(60_000, Math.ceil((due - this.now()) / 60_000) * 60_000))
          : undefined;
        this.say(
          id,
          `SLA clock running${left ? `: due in ${left}` : ''}${sla?.calendar ? ` (${sla.calendar} calendar)` : ''}`,
        );
        return;
      }
      case 'warning':
        this.counts.warnings++;
        this.say(
          id,
          `SLA warning: ${sla?.warningAt ?? 75}% of the stage's time is used; the owner is warned`,
        );
        return;
      case 'breached': {
        this.counts.breaches++;
        const reason = prop(P.breachReason);
        this.say(
          id,
          `SLA breached: the deal is still here after its target${reason ? `; breach reason inferred: ${reason}` : ''}`,
        );
        return;
      }
      case 'met':
        // Told (and counted) from the SLA task's completion, which HubSpot shows even when this status is skipped.
        return;
      default:
        if (status) this.say(id, `SLA ${status.replace(/_/g, ' ')}`);
    }
  }

  private describeAction(type: string, stage: Stage): string {
    const role = this.playbook.roles.find((r) => r.id === stage.ownerRole)?.name ?? stage.ownerRole;
    switch (type) {
      case 'taskForLead':
        return `task for the ${role} lead`;
      case 'reassignToLead':
        return `deal handed to the ${role} lead`;
      case 'notifyOwner':
        return 'owner notified';
      case 'setProperty':
        return 'flag set on the deal';
      default:
        return type;
    }
  }

  private stageOf(id: string | undefined): Stage | undefined {
    for (const pl of this.playbook.pipelines) for (const s of pl.stages) if (s.id === id) return s;
    return undefined;
  }

  private stageLabel(id: string): string {
    return this.stageOf(id)?.label ?? `stage ${id}`;
  }
}
