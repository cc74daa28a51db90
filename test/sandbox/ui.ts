import { createObject, mergeObjects, updateObject } from './crm';
import type { Source, StoredObject } from './objects';
import type { SandboxPortal } from './portal';

type Actor = { userId?: number };

/**
 * What reps do in HubSpot's own UI. These bypass the HTTP layer (no auth, no rate limit) but go through the
 * same validation, so a UI move to a stage outside the deal's pipeline fails just as HubSpot's UI won't offer
 * it. Webhooks carry changeSource CRM_UI and sourceId "userId:<id>".
 */
export class PortalUi {
  constructor(private readonly portal: SandboxPortal) {}

  private source(actor?: Actor): Source {
    const userId = actor?.userId ?? this.portal.owners.first()?.userId ?? 1;
    return { changeSource: 'CRM_UI', sourceId: `userId:${userId}` };
  }

  createDeal(properties: Record<string, string>, actor?: Actor): StoredObject {
    return createObject(this.portal, 'deals', { properties }, this.source(actor));
  }

  moveDeal(dealId: string, stageId: string, actor?: Actor): StoredObject {
    const pipeline = this.portal.pipelines.pipelineOfStage(stageId);
    // Dragging a card onto another pipeline's board changes both properties at once, as the UI does.
    const props: Record<string, string> = pipeline
      ? { dealstage: stageId, pipeline: pipeline.id }
      : { dealstage: stageId };
    return updateObject(this.portal, 'deals', dealId, props, this.source(actor));
  }

  setOwner(dealId: string, ownerId: string | null, actor?: Actor): StoredObject {
    return updateObject(
      this.portal,
      'deals',
      dealId,
      { hubspot_owner_id: ownerId ?? '' },
      this.source(actor),
    );
  }

  setProperty(dealId: string, name: string, value: string | null, actor?: Actor): StoredObject {
    return updateObject(this.portal, 'deals', dealId, { [name]: value ?? '' }, this.source(actor));
  }

  setProperties(dealId: string, properties: Record<string, string>, actor?: Actor): StoredObject {
    return updateObject(this.portal, 'deals', dealId, properties, this.source(actor));
  }

  deleteDeal(dealId: string, actor?: Actor): void {
    this.portal.objects.archive(this.portal.objects.get('deals', dealId), this.source(actor));
  }

  restoreDeal(dealId: string, actor?: Actor): StoredObject {
    const obj = this.portal.objects.get('deals', dealId, true);
    this.portal.objects.restore(obj, this.source(actor));
    return obj;
  }

  mergeDeals(primaryId: string, otherId: string, actor?: Actor): StoredObject {
    return mergeObjects(this.portal, 'deals', primaryId, otherId, this.source(actor));
  }

  /** A rep logs a call/email: HubSpot bumps num_contacted_notes and notes_last_contacted (read-only via API). */
  logContactAttempt(dealId: string, actor?: Actor): StoredObject {
    const deal = this.portal.objects.get('deals', dealId);
    const count = Number(deal.props.get('num_contacted_notes') ?? '0') + 1;
    return this.portal.objects.commitUpdate(
      {
        type: 'deals',
        target: deal,
        values: {
          num_contacted_notes: String(count),
          notes_last_contacted: new Date(this.portal.now()).toISOString(),
        },
      },
      this.source(actor),
    );
  }

  completeTask(taskId: string, actor?: Actor): StoredObject {
    return updateObject(this.portal, 'tasks', taskId, { hs_task_status: 'COMPLETED' }, this.source(actor));
  }

  /** A rep reopens a completed task (status back to NOT_STARTED). */
  reopenTask(taskId: string, actor?: Actor): StoredObject {
    return updateObject(this.portal, 'tasks', taskId, { hs_task_status: 'NOT_STARTED' }, this.source(actor));
  }

  /** A rep deletes a task (archived: reads and updates of its id answer not found). */
  deleteTask(taskId: string, actor?: Actor): void {
    this.portal.objects.archive(this.portal.objects.get('tasks', taskId), this.source(actor));
  }
}
