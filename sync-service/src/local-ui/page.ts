/**
 * The local ops page: static HTML and a small vanilla script, no build step and nothing from a CDN (the quick start
 * must work offline). Everything it shows comes from the JSON endpoints; text is set through textContent only,
 * since stage labels and role names come from an editable playbook.
 */
import { WHATIF_CSS, WHATIF_JS, WHATIF_SECTION } from './whatif-page';

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stagekeeper · sandbox</title>
<link rel="icon" href="data:,">
<style>
  :root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f5f7fa; --blue: #2f80ed; --amber: #f2994a;
          --red: #d64545; --green: #27ae60; --grey: #9aa5b1; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
  header { background: #102a43; color: #fff; padding: 14px 24px; display: flex; align-items: baseline; gap: 18px; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header .clock { color: #bcccdc; }
  main { padding: 16px 24px; display: grid; gap: 16px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
  h2 { font-size: 15px; margin: 0 0 10px; }
  .sub { color: var(--muted); font-weight: normal; font-size: 13px; margin-left: 6px; }
  .chips { display: flex; gap: 8px; flex-wrap: wrap; }
  .chip { border: 1px solid var(--line); border-radius: 16px; padding: 3px 12px; background: #fff; }
  .chip b { font-size: 16px; margin-right: 4px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
  td.gate { white-space: normal; color: var(--muted); font-size: 12px; max-width: 360px; }
  .tag { display: inline-block; border-radius: 4px; padding: 1px 8px; color: #fff; font-size: 12px; font-weight: 600; }
  .tag.running { background: var(--blue); } .tag.warning { background: var(--amber); } .tag.breached { background: var(--red); }
  .tag.met { background: var(--green); } .tag.paused, .tag.pending, .tag.unmanaged, .tag.no_sla, .tag.cancelled { background: var(--grey); }
  .tag.breached_closed { background: #8e2c2c; }
  .overdue { color: var(--red); font-weight: 600; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 340px), 1fr)); gap: 16px; }
  .charts > * { min-width: 0; }
  .weeknav { display: inline-flex; gap: 4px; margin-left: 8px; vertical-align: 1px; }
  .weeknav button { font: inherit; font-size: 12px; border: 1px solid var(--line); background: #fff; border-radius: 4px; padding: 1px 8px; cursor: pointer; }
  .weeknav button:disabled { color: var(--grey); cursor: default; }
  .legend .tick { width: 3px; height: 12px; border-radius: 0; }
  .chart h3 { font-size: 13px; margin: 0 0 6px; color: var(--muted); }
  .legend { font-size: 12px; color: var(--muted); display: flex; flex-wrap: wrap; gap: 4px 12px; margin-top: 4px; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
  .empty { color: var(--muted); font-style: italic; }
  /* Per-stage stuck work: a fixed layout that wraps rather than widens, so it fits a 360 px phone. */
  #stage-now { table-layout: fixed; margin-top: 12px; }
  #stage-now th, #stage-now td { white-space: normal; padding: 4px 6px; }
  #stage-now td { overflow-wrap: anywhere; }
  #stage-now th { text-transform: none; letter-spacing: 0; }
  #stage-now th:first-child { width: 34%; }
  footer { color: var(--muted); font-size: 12px; padding: 0 24px 16px; overflow-wrap: anywhere; }
  /* Phones (from 360 px): no sideways scroll; the deals table becomes one card per deal, labelled cell by cell. */
  @media (max-width: 760px) {
    header, main, footer { padding-left: 10px; padding-right: 10px; }
    section { padding: 10px; }
    #deals thead { display: none; }
    #deals, #deals tbody, #deals tr { display: block; width: 100%; }
    #deals tr { border-bottom: 1px solid var(--line); padding: 6px 0; }
    #deals td { display: flex; gap: 8px; border: 0; padding: 2px 0; white-space: normal; max-width: none; }
    #deals td::before { content: attr(data-label); flex: 0 0 84px; color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .03em; }
    #deals td.empty::before, #deals td:empty { display: none; }
  }
${WHATIF_CSS}
</style>
</head>
<body>
<header>
  <h1>Stagekeeper · sandbox portal</h1>
  <span class="clock" id="clock">connecting…</span>
</header>
<main>
  <section id="demo-panel">
    <h2>What the service did <span class="sub" id="demo-state"></span></h2>
    <div class="chips" id="counts"></div>
  </section>
  <section>
    <h2>Deals and live SLA timers <span class="sub">remaining time is staffed time on the stage's calendar</span></h2>
    <table id="deals">
      <thead><tr><th>Deal</th><th>Stage</th><th>Role</th><th>Status</th><th>SLA used</th><th>Remaining</th><th>Due</th><th>Gate</th></tr></thead>
      <tbody><tr><td colspan="8" class="empty">No deals yet.</td></tr></tbody>
    </table>
    <div class="legend" id="bar-legend"><span>SLA used: the bar spans 0–200 % of the stage's target, coloured by status;</span>
      <span><i class="tick" style="background:var(--amber)"></i>warning threshold</span><span><i class="tick" style="background:var(--red)"></i>due (100 %)</span>
      <span>Due times are in the stage calendar's time zone.</span></div>
  </section>
  <section id="scorecard">
    <h2>Weekly scorecard <span class="weeknav"><button id="week-prev" type="button">‹ Previous</button><button id="week-this" type="button">This week</button><button id="week-next" type="button">Next ›</button></span>
      <span class="sub" id="week"></span></h2>
    <div class="charts">
      <div class="chart"><h3>Stage visits finished in the week</h3><div id="chart-visits"></div>
        <div class="legend"><span><i style="background:var(--green)"></i>SLA met</span><span><i style="background:var(--red)"></i>breached</span><span><i style="background:var(--grey)"></i>no SLA</span></div></div>
      <div class="chart"><h3>Median time in stage (p90 whisker)</h3><div id="chart-time"></div></div>
      <div class="chart"><h3>Breach rate by role</h3><div id="chart-roles"></div><div id="reasons" class="legend"></div></div>
    </div>
    <table id="stage-now">
      <thead><tr><th>Stage</th><th>In stage</th><th>Oldest</th><th>Breached in place</th><th>Drop-off</th></tr></thead>
      <tbody><tr><td colspan="5" class="empty">No deal in a stage.</td></tr></tbody>
    </table>
    <div class="legend"><span>In stage: deals in the stage at the week's end (now, for this week); Oldest: wall time since entry;
      Breached in place: of those, already breached (in the breach rate); Drop-off: finished visits that moved into a closed-lost stage.</span></div>
  </section>
${WHATIF_SECTION}
</main>
<footer>Refreshes every second from <code>/sandbox/api/deals</code>, <code>/sandbox/api/scorecard</code> and <code>/sandbox/api/demo</code>. Deal ids only: no deal properties are shown.</footer>
<script src="/sandbox/page.js"></script>
</body>
</html>
`;

export const PAGE_JS = `'use strict';
const NS = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  for (const k of kids) n.append(k);
  return n;
}
function svg(tag, attrs, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}
function dur(ms) {
  if (ms === null || ms === undefined) return '';
  let s = Math.round(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const parts = [];
  if (d) parts.push(d + 'd');
  if (h) parts.push(h + 'h');
  if (m && d === 0) parts.push(m + 'm');
  if (!d && !h) parts.push(s + 's');
  return parts.join(' ') || '0s';
}
// Due times days away need their date ("02:04 PM" alone reads as today), and their zone: the stage's calendar,
// not the viewer's.
const time = (iso, zone) => iso ? new Date(iso).toLocaleString('en-US', { timeZone: zone || 'UTC', weekday: 'short', month: 'short',
  day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' }) : '';
const plural = (n, one, many) => n + ' ' + (n === 1 ? one : many);
const pct = (x) => x === null || x === undefined ? '–' : Math.round(x * 100) + '%';
const COLORS = { running: '#2f80ed', warning: '#f2994a', breached: '#d64545', met: '#27ae60' };

function slaBar(row) {
  const w = 140, h = 12;
  const s = svg('svg', { width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'img' });
  if (row.elapsedMs === null) return s;
  const target = row.elapsedMs + row.remainingMs;
  const used = target > 0 ? row.elapsedMs / target : 0;
  // The bar spans 0-200 % of the target, where the canonical playbook's last escalations sit.
  const x = (f) => Math.max(0, Math.min(1, f / 2)) * w;
  s.append(svg('rect', { x: 0, y: 2, width: w, height: h - 4, rx: 3, fill: '#e4e7eb' }));
  s.append(svg('rect', { x: 0, y: 2, width: x(used), height: h - 4, rx: 3, fill: COLORS[row.status] || '#9aa5b1' }));
  if (row.warnPct) s.append(svg('line', { x1: x(row.warnPct / 100), x2: x(row.warnPct / 100), y1: 0, y2: h, stroke: '#f2994a', 'stroke-width': 2 }));
  s.append(svg('line', { x1: x(1), x2: x(1), y1: 0, y2: h, stroke: '#d64545', 'stroke-width': 2 }));
  s.append(svg('title', {}, Math.round(used * 100) + '% of ' + (row.target || 'the target') + ' used'));
  return s;
}

function renderDeals(data) {
  const body = $('deals').tBodies[0];
  const rows = data.deals.map((d) => {
    const overdue = d.remainingMs !== null && d.remainingMs < 0 && (d.status === 'breached' || d.status === 'running' || d.status === 'warning');
    const remaining = d.remainingMs === null ? '' : overdue ? 'overdue ' + dur(d.remainingMs) : d.status === 'met' ? '' : dur(d.remainingMs);
    const gate = d.gate ? (d.gate.status === 'blocked_remediation' ? 'routed to remediation' : 'move reverted') +
      (d.gate.blockedTo ? ' (to ' + d.gate.blockedTo + ')' : '') + ': missing ' + d.gate.missing.join(', ') : '';
    const tr = el('tr', { 'data-deal': d.dealId, 'data-status': d.status },
      el('td', { 'data-label': 'Deal' }, d.dealId), el('td', { 'data-label': 'Stage' }, d.stage), el('td', { 'data-label': 'Role' }, d.role),
      el('td', { 'data-label': 'Status' }, el('span', { class: 'tag ' + d.status }, d.status.replace('_', ' ') + (d.breaches > 0 && d.status !== 'breached' ? ' · ' + plural(d.breaches, 'breach', 'breaches') : ''))),
      el('td', { 'data-label': 'SLA used' }, slaBar(d)),
      el('td', overdue ? { class: 'overdue', 'data-label': 'Remaining' } : { 'data-label': 'Remaining' }, remaining),
      el('td', { 'data-label': 'Due', class: 'due' }, time(d.dueAt, d.zone)),
      el('td', { class: 'gate', 'data-label': 'Gate' }, gate));
    return tr;
  });
  body.replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '8', class: 'empty' }, 'No deals yet.'))]));
  const speed = data.speed > 1 ? ' · demo clock, ' + data.speed + '× real time' : '';
  $('clock').textContent = 'portal time ' + time(data.now, data.zone) + speed;
}

function hbars(target, rows, opts) {
  const labelW = 150, barW = 200, rowH = 24, w = labelW + barW + 120;
  const s = svg('svg', { width: '100%', viewBox: '0 0 ' + w + ' ' + Math.max(rowH, rows.length * rowH + 4), role: 'img' });
  const max = Math.max(opts.max || 0, ...rows.map((r) => r.total)) || 1;
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    s.append(svg('text', { x: labelW - 8, y: y + 13, 'text-anchor': 'end', 'font-size': 12, fill: '#1f2933' }, r.label));
    s.append(svg('rect', { x: labelW, y, width: barW, height: 16, fill: '#f0f2f5', rx: 2 }));
    let x = labelW;
    for (const seg of r.segments) {
      const sw = (seg.value / max) * barW;
      if (sw > 0) s.append(svg('rect', { x, y, width: sw, height: 16, fill: seg.color, rx: 2 }));
      x += sw;
    }
    if (r.whisker !== undefined) {
      const wx = labelW + Math.min(1, r.whisker / max) * barW;
      s.append(svg('line', { x1: labelW + (r.total / max) * barW, x2: wx, y1: y + 8, y2: y + 8, stroke: '#616e7c' }));
      s.append(svg('line', { x1: wx, x2: wx, y1: y + 3, y2: y + 13, stroke: '#616e7c' }));
    }
    s.append(svg('text', { x: labelW + barW + 6, y: y + 13, 'font-size': 12, fill: '#616e7c' }, r.text));
  });
  target.replaceChildren(rows.length ? s : el('p', { class: 'empty' }, 'No finished stage visits in this week (yet).'));
}

function renderScorecard(card) {
  if (!card) { $('week').textContent = 'no playbook in force'; return; }
  weeks = card.weeks;
  $('week-prev').disabled = !weeks;
  $('week-next').disabled = !weeks || !weeks.next;
  $('week-this').disabled = !weeks || card.week === weeks.current;
  $('week').textContent = card.week + ' · ' + card.weekStart + ' to ' + card.weekEnd + ' (' + card.timeZone + ') · ' + plural(card.totals.volume, 'visit', 'visits') + ', breach rate ' + pct(card.totals.breachRate);
  const stages = card.byStage.filter((r) => r.volume > 0);
  hbars($('chart-visits'), stages.map((r) => ({
    label: r.stage.label, total: r.volume, text: r.volume + (r.breached ? ' · ' + r.breached + ' breached' : ''),
    segments: [
      { value: r.slaVisits - r.breached, color: '#27ae60' },
      { value: r.breached, color: '#d64545' },
      { value: r.volume - r.slaVisits, color: '#9aa5b1' },
    ],
  })), {});
  const timed = stages.filter((r) => r.medianTimeInStageMs !== null);
  hbars($('chart-time'), timed.map((r) => ({
    label: r.stage.label, total: r.medianTimeInStageMs, whisker: r.p90TimeInStageMs === null ? undefined : r.p90TimeInStageMs,
    text: dur(r.medianTimeInStageMs), segments: [{ value: r.medianTimeInStageMs, color: '#2f80ed' }],
  })), { max: Math.max(0, ...timed.map((r) => r.p90TimeInStageMs || 0)) });
  const roles = card.byRole.filter((r) => r.slaVisits > 0);
  hbars($('chart-roles'), roles.map((r) => ({
    label: r.role.name, total: 1, text: pct(r.breachRate) + ' of ' + r.slaVisits,
    segments: [{ value: r.breachRate || 0, color: '#d64545' }],
  })), { max: 1 });
  const now = card.byStage.filter((r) => (r.inStage || 0) > 0 || (r.droppedOff || 0) > 0);
  $('stage-now').tBodies[0].replaceChildren(...(now.length ? now.map((r) => el('tr', { 'data-stage': r.stage.id },
    el('td', {}, r.stage.label), el('td', {}, String(r.inStage || 0)), el('td', {}, r.maxAgeMs == null ? '–' : dur(r.maxAgeMs)),
    el('td', {}, String(r.openBreached || 0)), el('td', {}, r.volume ? pct(r.dropOffRate) + ' (' + (r.droppedOff || 0) + ')' : '–'))) :
    [el('tr', {}, el('td', { colspan: '5', class: 'empty' }, 'No deal in a stage.'))]));
  const reasons = card.totals.topBreachReasons.map((x) => x.reason.replace('_', ' ') + ' ×' + x.count);
  $('reasons').textContent = reasons.length ? 'Top breach reasons: ' + reasons.join(', ') : '';
}

const LABELS = [['deals', 'deal', 'deals'], ['tasks', 'task created', 'tasks created'], ['warnings', 'warning', 'warnings'],
  ['breaches', 'breach', 'breaches'], ['escalations', 'escalation', 'escalations'], ['reassignments', 'hand-over', 'hand-overs'],
  ['gateBlocks', 'gate block', 'gate blocks'], ['slaMet', 'SLA met', 'SLAs met']];
function renderDemo(d) {
  if (!d || !d.counts) { $('demo-panel').hidden = true; return; }
  $('demo-panel').hidden = false;
  $('demo-state').textContent = d.finished ? 'demo script finished; timers keep running' : 'demo running at ' + d.speed + '× speed';
  $('counts').replaceChildren(...LABELS.map(([k, one, many]) => el('span', { class: 'chip', 'data-count': k }, el('b', {}, String(d.counts[k])), d.counts[k] === 1 ? one : many)));
}

async function get(path) {
  const r = await fetch(path, { cache: 'no-store' });
  if (!r.ok) throw new Error(path + ': ' + r.status);
  return r.json();
}
// The week picker: null is "the current week", which moves on by itself at the week's turn.
let week = null;
let weeks = null;
const loadScorecard = async () => renderScorecard(await get('/sandbox/api/scorecard' + (week ? '?week=' + encodeURIComponent(week) : '')));
const pick = (w) => { week = w; loadScorecard().catch(() => undefined); };
$('week-prev').addEventListener('click', () => weeks && pick(weeks.previous));
$('week-next').addEventListener('click', () => weeks && weeks.next && pick(weeks.next === weeks.current ? null : weeks.next));
$('week-this').addEventListener('click', () => pick(null));

let tick = 0;
async function refresh() {
  try {
    renderDeals(await get('/sandbox/api/deals'));
    if (tick % 3 === 0) {
      await loadScorecard();
      renderDemo(await get('/sandbox/api/demo'));
    }
    tick++;
  } catch (e) {
    $('clock').textContent = 'service not reachable (' + e.message + '), retrying…';
  }
  setTimeout(refresh, 1000);
}
refresh();
${WHATIF_JS}`;
