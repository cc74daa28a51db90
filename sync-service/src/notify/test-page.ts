import type { PageFacts } from '@stagekeeper/shared';
import { DEFAULT_HUBSPOT_APP_ORIGIN } from './app-origin';
import type { ChannelStore } from './channel-store';
import { ChannelConfigError } from './channel-store';
import { deliver, type DeliverOptions } from './deliver';

/**
 * A test page an admin sends from the settings page or the CLI to check a channel end to end. It says it is a
 * test in its first line, names no deal, and a PagerDuty test incident is resolved right after it opens.
 */
export async function sendTestPage(
  channels: Pick<ChannelStore, 'get' | 'recordSuccess' | 'recordFailure'>,
  portalId: string,
  channelId: string,
  opts: DeliverOptions & { link?: string } = {},
): Promise<{ ok: true } | { ok: false; code: string }> {
  const config = (await channels.get(portalId)).channels[channelId];
  if (!config) throw new ChannelConfigError(`There is no channel "${channelId}".`);
  const now = (opts.clock ?? Date.now)();
  const facts: PageFacts = {
    dealId: 'test',
    pipeline: { id: 'test', label: 'Test' },
    stage: { id: 'test', label: 'Stagekeeper test page' },
    role: { id: 'test', name: 'the configured role' },
    leadOwnerId: null,
    level: 1,
    atPct: 100,
    waitedMs: 0,
    slaMs: 60_000,
    basis: 'calendar',
    dueAt: now,
    breached: false,
    reason: 'Channel check from the Stagekeeper settings; no action needed',
    breachReason: null,
  };
  const key = `test:${channelId}:${now}`;
  const link = opts.link ?? `${DEFAULT_HUBSPOT_APP_ORIGIN}/`;
  const sent = await deliver(config, { action: 'trigger', portalId, key, link, facts }, opts);
  if (sent.ok && config.kind === 'pagerduty')
    await deliver(config, { action: 'resolve', portalId, key, dealId: 'test', why: 'sla_met' }, opts);
  if (sent.ok) {
    await channels.recordSuccess(portalId, channelId);
    return { ok: true };
  }
  await channels.recordFailure(portalId, channelId, sent.code, !sent.retryable);
  return { ok: false, code: sent.code };
}
