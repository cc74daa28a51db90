import { formatDuration, taskTime, type PageFacts, type PageResolution } from '@stagekeeper/shared';
import { DEFAULT_HUBSPOT_APP_ORIGIN } from './app-origin';

/**
 * What a page says, per channel. Built from PageFacts only (labels, ids, durations), so no deal property value
 * can reach Slack, Teams, PagerDuty or a team's webhook. The first line stands alone on a phone lock screen:
 * stage, deal, how long against the SLA, level.
 */

/** HubSpot's deal record URL on the account's app origin (HUBSPOT_APP_ORIGIN; app-eu1.hubspot.com in the EU). */
export function dealLink(portalId: string, dealId: string, appOrigin = DEFAULT_HUBSPOT_APP_ORIGIN): string {
  return `${appOrigin}/contacts/${encodeURIComponent(portalId)}/record/0-3/${encodeURIComponent(dealId)}`;
}

const pct = (f: PageFacts) => Math.round((f.waitedMs / f.slaMs) * 100);
const basisWord = (f: PageFacts) => (f.basis === 'business' ? 'staffed' : 'calendar');

/** e.g. "BREACHED Intake Completed: deal 4711 waited 4h10m of 4h SLA (L2)". */
export function headline(f: PageFacts): string {
  const state = f.breached ? 'BREACHED' : `${pct(f)}% of SLA`;
  return `${state} · ${f.stage.label}: deal ${f.dealId} waited ${formatDuration(f.waitedMs)} of ${formatDuration(f.slaMs)} (L${f.level})`;
}

export function detailLines(f: PageFacts, link: string): string[] {
  return [
    `Why: ${f.reason}`,
    `Pipeline: ${f.pipeline.label} · Stage: ${f.stage.label}`,
    `Role: ${f.role.name} (paging its lead)`,
    `Waited: ${formatDuration(f.waitedMs)} of ${formatDuration(f.slaMs)} ${basisWord(f)} time · due ${taskTime(f.dueAt, f.timeZone ?? 'UTC')}`,
    `Escalation level ${f.level} (at ${f.atPct}% of the SLA)${f.breachReason ? ` · breach reason: ${f.breachReason}` : ''}`,
    `Open the deal: ${link}`,
  ];
}

/** The plain text every channel starts from (also what the report shows). */
export function pageText(f: PageFacts, link: string): string {
  return [headline(f), ...detailLines(f, link)].join('\n');
}

/** Slack incoming webhook: `text` is the notification (lock screen); blocks lay out the rest. */
export function slackPayload(f: PageFacts, link: string) {
  return {
    text: headline(f),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${escapeSlack(headline(f))}*` } },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: detailLines(f, link).slice(0, -1).map(escapeSlack).join('\n') },
      },
      {
        type: 'actions',
        elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open deal in HubSpot' }, url: link }],
      },
    ],
  };
}

/** Slack treats &, < and > as control characters in text. */
const escapeSlack = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Teams incoming webhook: a message with an Adaptive Card (accepted by connectors and Workflows alike). */
function teamsMessage(summary: string, body: object[], link: string) {
  return {
    type: 'message',
    summary,
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body,
          actions: [{ type: 'Action.OpenUrl', title: 'Open deal in HubSpot', url: link }],
        },
      },
    ],
  };
}

export function teamsPayload(f: PageFacts, link: string) {
  return teamsMessage(
    headline(f),
    [
      {
        type: 'TextBlock',
        text: headline(f),
        weight: 'Bolder',
        wrap: true,
        color: f.breached ? 'Attention' : 'Warning',
      },
      { type: 'TextBlock', text: detailLines(f, link).slice(0, -1).join('\n\n'), wrap: true },
    ],
    link,
  );
}

/** PagerDuty Events API v2 trigger; the dedup key ties the later resolve to this incident. */
export function pagerDutyTrigger(f: PageFacts, link: string, routingKey: string, dedupKey: string) {
  return {
    routing_key: routingKey,
    event_action: 'trigger' as const,
    dedup_key: dedupKey,
    payload: {
      summary: headline(f).slice(0, 1024),
      source: 'stagekeeper',
      severity: f.breached ? ('critical' as const) : ('warning' as const),
      component: f.stage.label,
      group: f.pipeline.label,
      class: `sla-escalation-level-${f.level}`,
      custom_details: {
        deal_id: f.dealId,
        pipeline: f.pipeline.label,
        stage: f.stage.label,
        role: f.role.name,
        waited: formatDuration(f.waitedMs),
        sla: formatDuration(f.slaMs),
        basis: f.basis,
        due: taskTime(f.dueAt, f.timeZone ?? 'UTC'),
        due_at: new Date(f.dueAt).toISOString(),
        level: f.level,
        reason: f.reason,
        ...(f.breachReason ? { breach_reason: f.breachReason } : {}),
      },
    },
    links: [{ href: link, text: 'Open deal in HubSpot' }],
  };
}

/** What ended the visit, as the follow-up says it. */
const RESOLVED_WORDS: Record<PageResolution, string> = {
  stage_left: 'left the stage',
  sla_met: 'met its SLA',
  sla_cancelled: 'no longer has an SLA running',
  deal_closed: 'was closed',
};

/** What Slack and Teams are told when a paged visit ends: the page's stage, deal and level; no values. */
export type ResolvedNote = { dealId: string; stage: string; level: number; why: PageResolution };

/** e.g. "Resolved · Intake Completed: deal 4711 met its SLA (L1)". */
export const resolvedLine = (r: ResolvedNote) =>
  `Resolved · ${r.stage}: deal ${r.dealId} ${RESOLVED_WORDS[r.why]} (L${r.level})`;

/** Slack and Teams have no incident to close: a short follow-up tells whoever saw the page it is handled. */
export function slackResolvedPayload(r: ResolvedNote, link: string) {
  return {
    text: resolvedLine(r),
    blocks: [
      {
        type: 'section',
        text: { type: 'mrkdwn', text: `${escapeSlack(resolvedLine(r))} · <${link}|Open deal>` },
      },
    ],
  };
}

export function teamsResolvedPayload(r: ResolvedNote, link: string) {
  return teamsMessage(
    resolvedLine(r),
    [{ type: 'TextBlock', text: resolvedLine(r), wrap: true, color: 'Good' }],
    link,
  );
}

export function pagerDutyResolve(routingKey: string, dedupKey: string) {
  return { routing_key: routingKey, event_action: 'resolve' as const, dedup_key: dedupKey };
}

/** The generic webhook's JSON (documented in notify/README.md). */
export function webhookPagePayload(f: PageFacts, link: string, key: string, portalId: string) {
  return { type: 'page.triggered', key, portalId, text: headline(f), link, page: f };
}

export function webhookResolvePayload(key: string, portalId: string, dealId: string, why: PageResolution) {
  return { type: 'page.resolved', key, portalId, dealId, why };
}

/**
 * PagerDuty's dedup_key: one incident per portal, deal, stage entry and level (at most 255 characters; the
 * engine's key is `<dealId>:<stage>:<enteredAt>:level:<i>`).
 */
export const pagerDutyDedupKey = (portalId: string, pageKey: string) =>
  `stagekeeper:${portalId}:${pageKey}`.slice(0, 255);
