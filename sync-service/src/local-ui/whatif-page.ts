/**
 * The local page's what-if section: a draft playbook (YAML, prefilled with the one in force) replayed over the
 * sandbox's recent stage visits through POST /sandbox/api/whatif, which answers with the settings page's own
 * report. Shown as the settings preview shows it: a chart, per stage and per role, flips (ids only), the repair
 * preview. Its script runs after the page's (it uses $, el, svg, dur and plural from there).
 */

export const WHATIF_CSS = `
  #whatif textarea { width: 100%; min-height: 270px; font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; border: 1px solid var(--line);
    border-radius: 6px; padding: 8px; resize: vertical; }
  #whatif .wi-controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 8px 0; }
  #whatif .wi-controls button, #whatif select { font: inherit; border: 1px solid var(--line); background: #fff; border-radius: 4px; padding: 3px 10px; }
  #whatif .wi-controls button.primary { background: var(--blue); border-color: var(--blue); color: #fff; cursor: pointer; }
  #whatif .wi-errors { color: var(--red); margin: 6px 0; padding-left: 18px; overflow-wrap: anywhere; }
  #whatif h3 { font-size: 13px; margin: 14px 0 6px; color: var(--muted); }
  #whatif .wi-scroll { overflow-x: auto; }
  #whatif .up { color: var(--red); } #whatif .down { color: var(--green); }
  #whatif .wi-flips { font-size: 13px; overflow-wrap: anywhere; }
  @media (max-width: 760px) {
    #whatif .wi-table thead { display: none; }
    #whatif .wi-table, #whatif .wi-table tbody, #whatif .wi-table tr { display: block; width: 100%; }
    #whatif .wi-table tr { border-bottom: 1px solid var(--line); padding: 6px 0; }
    #whatif .wi-table td { display: flex; gap: 8px; border: 0; padding: 2px 0; white-space: normal; }
    #whatif .wi-table td::before { content: attr(data-label); flex: 0 0 120px; color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .03em; }
  }
`;

export const WHATIF_SECTION = `
  <section id="whatif">
    <h2>What if: preview a draft playbook <span class="sub">replays recent stage visits under the draft and the playbook in force; nothing is published</span></h2>
    <label for="wi-draft" class="sub" style="margin:0">Draft playbook (YAML), starting from the one in force <span id="wi-version"></span></label>
    <textarea id="wi-draft" spellcheck="false" autocomplete="off"></textarea>
    <div class="wi-controls">
      <label for="wi-weeks">Replay the last</label>
      <select id="wi-weeks"><option value="1">1 week</option><option value="2">2 weeks</option><option value="4" selected>4 weeks</option>
        <option value="8">8 weeks</option><option value="13">13 weeks</option></select>
      <button id="wi-run" class="primary" type="button">Preview impact</button>
      <button id="wi-reset" type="button">Reset to the playbook in force</button>
      <span class="sub" id="wi-state"></span>
    </div>
    <ul class="wi-errors" id="wi-errors" hidden></ul>
    <div id="wi-result" hidden>
      <p id="wi-summary"></p>
      <div class="charts">
        <div class="chart"><h3>Breach rate per stage</h3><div id="wi-chart-breach"></div></div>
        <div class="chart"><h3>Tasks per week per stage</h3><div id="wi-chart-tasks"></div></div>
      </div>
      <div class="legend"><span><i style="background:#9aa5b1"></i>in force</span><span><i style="background:#2f80ed"></i>draft</span></div>
      <h3>By stage</h3><div class="wi-scroll"><table class="wi-table" id="wi-stages"></table></div>
      <h3>By owner role</h3><div class="wi-scroll"><table class="wi-table" id="wi-roles"></table></div>
      <h3>Deals whose outcome flips <span class="sub">deal ids only</span></h3><p class="wi-flips" id="wi-flips"></p>
      <h3>Deals running now: how far their due times move on publishing (repair preview)</h3>
      <div class="wi-scroll"><table class="wi-table" id="wi-repair"></table></div>
      <p class="sub" style="margin:8px 0 0">Unknown: visits recorded without a value the playbook reads; they are never guessed.</p>
    </div>
  </section>`;

export const WHATIF_JS = `
const wi = { inForce: '' };
const pct1 = (x) => x === null || x === undefined ? '–' : (Math.round(x * 1000) / 10) + '%';
const num2 = (n) => String(Math.round(n * 100) / 100);
// A move of a due time in whole minutes, as the CLI prints it: "+25m", "−1h 30m", "0m".
function shift(ms) {
  if (ms === null || ms === undefined) return '–';
  let m = Math.round(Math.abs(ms) / 60000);
  if (m === 0) return '0m';
  const d = Math.floor(m / 1440); m -= d * 1440;
  const h = Math.floor(m / 60); m -= h * 60;
  return (ms > 0 ? '+' : '−') + [d && d + 'd', h && h + 'h', m && m + 'm'].filter(Boolean).join(' ');
}
// "now → draft", coloured by whether the draft raises or lowers it.
function change(a, b, fmt) {
  const span = el('span', a === b || a === null || b === null ? {} : { class: b > a ? 'up' : 'down' }, fmt(a) + ' → ' + fmt(b));
  return span;
}
const METRIC_HEADS = ['Visits', 'Breach rate', 'Warnings / wk', 'Escalations / wk', 'Tasks / wk', 'Median due shift', 'Flips', 'Unknown'];
function metricCells(m) {
  return [String(m.visits), change(m.current.breachRate, m.draft.breachRate, pct1), change(m.current.warningsPerWeek, m.draft.warningsPerWeek, num2),
    change(m.current.escalationsPerWeek, m.draft.escalationsPerWeek, num2), change(m.current.tasksPerWeek, m.draft.tasksPerWeek, num2),
    shift(m.medianDueShiftMs), String(m.flips), String(Math.max(m.current.unknown, m.draft.unknown))];
}
function fillTable(table, heads, rows) {
  const head = el('thead', {}, el('tr', {}, ...heads.map((h) => el('th', {}, h))));
  const body = el('tbody', {}, ...rows.map((r) => el('tr', { 'data-row': r.key }, ...r.cells.map((c, i) => el('td', { 'data-label': heads[i] }, c)))));
  if (!rows.length) body.append(el('tr', {}, el('td', { colspan: String(heads.length), class: 'empty' }, 'Nothing to compare.')));
  table.replaceChildren(head, body);
}
// Two bars per row, the playbook in force above the draft, on a shared scale.
function pairBars(target, rows, fmt, max) {
  const labelW = 150, barW = 200, rowH = 34, w = labelW + barW + 110;
  const s = svg('svg', { width: '100%', viewBox: '0 0 ' + w + ' ' + (rows.length * rowH + 4), role: 'img' });
  const top = Math.max(max || 0, ...rows.flatMap((r) => [r.now, r.draft])) || 1;
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    s.append(svg('text', { x: labelW - 8, y: y + 17, 'text-anchor': 'end', 'font-size': 12, fill: '#1f2933' }, r.label));
    [['now', '#9aa5b1', 0], ['draft', '#2f80ed', 14]].forEach(([k, color, dy]) => {
      s.append(svg('rect', { x: labelW, y: y + dy, width: barW, height: 12, fill: '#f0f2f5', rx: 2 }));
      s.append(svg('rect', { x: labelW, y: y + dy, width: (r[k] / top) * barW, height: 12, fill: color, rx: 2, 'data-bar': k }));
      s.append(svg('text', { x: labelW + barW + 6, y: y + dy + 10, 'font-size': 11, fill: '#616e7c' }, (k === 'now' ? 'now ' : 'draft ') + fmt(r[k])));
    });
  });
  target.replaceChildren(rows.length ? s : el('p', { class: 'empty' }, 'No stage visits ended in this window.'));
}
function renderWhatIf(r) {
  $('wi-result').hidden = false;
  $('wi-summary').textContent = 'Draft v' + r.draftVersion + ' against v' + r.currentVersion + ' in force: ' + plural(r.totals.visits, 'stage visit', 'stage visits') +
    ' from ' + r.from.slice(0, 10) + ' to ' + r.to.slice(0, 10) + ', breach rate ' + pct1(r.totals.current.breachRate) + ' now, ' +
    pct1(r.totals.draft.breachRate) + ' with the draft; ' + plural(r.flipsTotal, 'outcome', 'outcomes') + ' would flip; ' +
    plural(r.repair.deals, 'running visit', 'running visits') + ' in the repair preview.';
  const stages = r.byStage.filter((s) => s.visits > 0);
  pairBars($('wi-chart-breach'), stages.map((s) => ({ label: s.stage.label, now: s.current.breachRate || 0, draft: s.draft.breachRate || 0 })), pct1, 1);
  pairBars($('wi-chart-tasks'), stages.map((s) => ({ label: s.stage.label, now: s.current.tasksPerWeek, draft: s.draft.tasksPerWeek })), num2);
  fillTable($('wi-stages'), ['Stage', ...METRIC_HEADS], r.byStage.map((s) => ({ key: s.stage.id, cells: [s.stage.label, ...metricCells(s)] })));
  fillTable($('wi-roles'), ['Role', ...METRIC_HEADS], r.byRole.map((s) => ({ key: s.role.id, cells: [s.role.name, ...metricCells(s)] })));
  const label = new Map(r.byStage.map((s) => [s.stage.id, s.stage.label]));
  $('wi-flips').replaceChildren(...(r.flipped.length ? r.flipped.map((f, i) => el('span', { 'data-flip': f.dealId },
    (i ? ', ' : '') + 'deal ' + f.dealId + ' in ' + (label.get(f.stage) || f.stage) + ': ' + f.from + ' → ' + f.to)) : [el('span', { class: 'empty' }, 'None.')]));
  if (r.flipsTotal > r.flipped.length) $('wi-flips').append(', and ' + (r.flipsTotal - r.flipped.length) + ' more');
  fillTable($('wi-repair'), ['Stage', 'Running', 'Moved', 'Median move', 'Min', 'Max', 'SLA removed', 'SLA added', 'Unknown'],
    r.repair.byStage.map((s) => ({ key: s.stage.id, cells: [s.stage.label, String(s.deals), String(s.moved), shift(s.medianShiftMs), shift(s.minShiftMs),
      shift(s.maxShiftMs), String(s.removed), String(s.added), String(s.unknown)] })));
}
async function runWhatIf() {
  $('wi-state').textContent = 'replaying…';
  $('wi-errors').hidden = true;
  try {
    const res = await fetch('/sandbox/api/whatif', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ yaml: $('wi-draft').value, weeks: Number($('wi-weeks').value) }) });
    const body = await res.json();
    if (!res.ok) {
      $('wi-state').textContent = body.error || ('failed (' + res.status + ')');
      $('wi-errors').replaceChildren(...(body.errors || []).map((e) => el('li', {}, (e.line ? 'line ' + e.line + ': ' : '') + (e.path ? e.path + ': ' : '') + e.message)));
      $('wi-errors').hidden = !(body.errors || []).length;
      return;
    }
    $('wi-state').textContent = '';
    renderWhatIf(body);
  } catch (e) {
    $('wi-state').textContent = 'service not reachable (' + e.message + ')';
  }
}
async function loadDraft() {
  const p = await get('/sandbox/api/playbook');
  if (!p) { $('wi-version').textContent = '(no playbook in force yet)'; return; }
  // Only an untouched editor is refilled: a draft being edited is never overwritten.
  if ($('wi-draft').value === wi.inForce) $('wi-draft').value = p.yaml;
  wi.inForce = p.yaml;
  $('wi-version').textContent = '(v' + p.version + ')';
}
$('wi-run').addEventListener('click', () => { runWhatIf(); });
$('wi-reset').addEventListener('click', () => { $('wi-draft').value = wi.inForce; });
(async function firstDraft() {
  try { await loadDraft(); } catch { setTimeout(firstDraft, 1000); }
})();
`;
