import { markedKeys } from '@stagekeeper/sync-service/hubspot/gateway/marked-objects';
import type { SandboxPortal } from '../sandbox/index';

const at = (ms: number) => new Date(ms).toISOString().slice(11, 23);

/**
 * What HubSpot saw of one deal, in order: its stage moves, deletion or merge, every Stagekeeper task of it (by
 * the key its marker names) and every API request that created, changed or listed them, with its status (a 504
 * is a write whose answer was lost). A chaos finding is a race between these; this is what it is read from.
 * Only ids, keys, paths and statuses: no property values besides the stage.
 */
export function dealTimeline(portal: SandboxPortal, dealId: string, maxLines = 60): string[] {
  const events: { at: number; line: string }[] = [];
  for (const c of portal.changes) {
    if (c.objectType !== 'deals') continue;
    if (c.kind === 'merge' && (c.mergedObjectIds.includes(dealId) || c.primaryObjectId === dealId))
      events.push({
        at: c.occurredAt,
        line: `merge of [${c.mergedObjectIds.join(', ')}] into ${c.primaryObjectId}`,
      });
    else if (c.objectId !== dealId) continue;
    else if (c.kind === 'propertyChange' && c.propertyName === 'dealstage')
      events.push({ at: c.occurredAt, line: `stage -> ${c.propertyValue} (${c.source.changeSource})` });
    else if (c.kind === 'deletion' || c.kind === 'restore') events.push({ at: c.occurredAt, line: c.kind });
  }
  const tasks = new Map<string, string>(); // task id -> key
  for (const t of [...portal.objects.all('tasks'), ...portal.objects.all('tasks', true)]) {
    const key = markedKeys(t.props.get('hs_task_body') ?? '')[0];
    if (!key?.startsWith(`${dealId}:`)) continue;
    tasks.set(t.id, key);
    events.push({
      at: t.createdAt,
      line: `task ${t.id} created: ${key} (now ${t.props.get('hs_task_status') ?? '?'})`,
    });
  }
  for (const r of portal.requests) {
    const body = JSON.stringify(r.body ?? '');
    const ids = [...tasks.keys()].filter((id) => r.path.includes(`/${id}`) || body.includes(`"${id}"`));
    const keys = [...new Set(markedKeys(body))].filter((k) => k.startsWith(`${dealId}:`));
    const listsDeal = r.path.includes(`/deals/${dealId}/`);
    if (!ids.length && !keys.length && !listsDeal) continue;
    events.push({
      at: r.at,
      line: `${r.method} ${r.path} ${r.status}${keys.length ? ` keys [${keys.join(', ')}]` : ''}${
        ids.length ? ` tasks [${ids.join(', ')}]` : ''
      }`,
    });
  }
  events.sort((a, b) => a.at - b.at);
  const lines = events.map((e) => `${at(e.at)} ${e.line}`);
  return lines.length > maxLines
    ? [...lines.slice(0, maxLines / 2), `… ${lines.length - maxLines} more`, ...lines.slice(-maxLines / 2)]
    : lines;
}
