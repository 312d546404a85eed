// blastwall dashboard: reads state.json, then follows `events` (Server-Sent Events). Plain ES module, no build step.
let uPlot = null;
try {
  uPlot = (await import('./vendor/uPlot.esm.js')).default;
} catch {
  uPlot = null; // charts are optional: the latest values are still shown as text
}

const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const cls = (state) => `s-${String(state ?? 'unknown').replace(/[^a-z-]/g, '')}`;
const badge = (state, text) => `<span class="badge ${cls(state)}">${esc(text ?? state)}</span>`;
const time = (ms) => (ms ? new Date(ms).toISOString().slice(11, 19) : '');
const ago = (ms, now) => {
  if (!ms) return '';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)}min ago` : `${(s / 3600).toFixed(1)}h ago`;
};
const pct = (x) => `${(x * 100).toFixed(x > 0 && x < 0.01 ? 1 : 0)}%`;
const dur = (ms) => (ms >= 60000 ? `${(ms / 60000).toFixed(1)} min` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const link = (runbook) => {
  if (!runbook) return '';
  // only same-site paths and http(s) links become links; anything else is shown as text
  return /^(https?:\/\/|\/|\.{0,2}\/?[\w.-]+\/)/.test(runbook) && !/^javascript:/i.test(runbook) ? `<a href="${esc(runbook)}" rel="noreferrer">${esc(runbook)}</a>` : esc(runbook);
};
const STATE_COLOURS = { healthy: '#17663a', delayed: '#b87400', retrying: '#b87400', degraded: '#b87400', unavailable: '#a0171f', corrupt: '#a0171f' };

let last = null;

function render(s) {
  last = s;
  const now = s.at;
  $('service').textContent = s.service || 'service';
  document.title = `${s.status === 'ok' ? '' : `[${s.status}] `}${s.service} · blastwall`;
  $('status').className = `badge ${cls(s.status)}`;
  $('status').textContent = s.status;
  if (s.mode) {
    $('mode').className = `badge ${cls(s.mode.mode)}`;
    $('mode').textContent = s.mode.mode + (s.mode.manual ? ' (by hand)' : '');
    $('mode-why').textContent = s.mode.reason ? `— ${s.mode.reason}${s.mode.since ? ` (since ${time(s.mode.since)})` : ''}` : '';
  }
  const inc = $('incident');
  if (s.incident) {
    inc.hidden = false;
    inc.textContent = `Incident: ${s.incident.title} — led by ${s.incident.lead} since ${time(s.incident.at)} UTC`;
  } else inc.hidden = true;
  renderCapabilities(s);
  renderDependencies(s, now);
  renderFleet(s);
  renderFeatures(s);
  renderOperations(s);
  renderTopology(s);
  renderTimeline(s);
  renderActions(s);
  $('updated').textContent = `updated ${new Date(now).toISOString().replace('T', ' ').slice(0, 19)} UTC · source: ${s.source}`;
}

function renderCapabilities(s) {
  const caps = s.impact?.capabilities ?? [];
  $('capability-list').innerHTML = caps.length === 0
    ? `<p class="muted">${s.impact ? 'No operations declared yet.' : 'Capabilities need a live wall (this view reads a timeline file).'}</p>`
    : caps.map((c) => `
      <article class="card ${cls(c.status)}" aria-label="Capability ${esc(c.name)}: ${esc(c.status)}">
        <h3><span>${esc(c.name)}</span> ${badge(c.status)}</h3>
        <p>${esc(c.summary)}</p>
        ${c.missing.length ? `<ul>${c.missing.map((m) => `<li>${m.dependency ? `<strong>${esc(m.dependency)}</strong> (${esc(m.criticality)}) ${esc(m.state)}: ` : ''}${esc(served(m))}${m.owner ? ` · owner ${esc(m.owner)}` : ''}${m.runbook ? ` · runbook ${link(m.runbook)}` : ''}</li>`).join('')}</ul>` : ''}
        <p class="muted small">operations: ${esc(c.operations.join(', '))} · last minute: ${c.recent.requests} requests, ${c.recent.failed} failed, ${c.recent.degraded} degraded${c.owners.length ? ` · owner ${esc(c.owners.join(', '))}` : ''}</p>
      </article>`).join('');
}

function served(m) {
  switch (m.served) {
    case 'stale': return `answers served stale (${dur(m.staleMs)} old)`;
    case 'fallback': return 'answers from the fallback';
    case 'deferred': return `work delayed${m.backlog !== undefined ? ` (${m.backlog} queued${m.oldestDeferredAgeMs ? `, oldest ${dur(m.oldestDeferredAgeMs)}` : ''})` : ''}`;
    default: return m.reason;
  }
}

const charts = new Map();

function renderDependencies(s, now) {
  $('alerts').innerHTML = s.alerts.map((a) => `<p class="alert ${cls(a.severity)}"><strong>${esc(a.kind)}</strong> ${esc(a.title)} <span class="small">(${time(a.at)})</span></p>`).join('');
  const list = $('dependency-list');
  const seen = new Set();
  for (const d of s.dependencies) {
    seen.add(d.name);
    let card = list.querySelector(`[data-dep="${CSS.escape(d.name)}"]`);
    if (!card) {
      card = document.createElement('article');
      card.dataset.dep = d.name;
      card.innerHTML = `<h3><span class="name"></span> <span class="state"></span></h3><p class="reason"></p><dl class="meta"></dl>
        <div class="sparks">${['p99 latency', 'error ratio', 'retries / call'].map((l, i) => `<div class="spark" data-i="${i}"><span class="label">${l}</span><span class="value"></span><div class="chart" role="img" aria-label="${l} over time"></div></div>`).join('')}</div>`;
      list.append(card);
    }
    card.className = `card ${cls(d.state)}`;
    card.setAttribute('aria-label', `Dependency ${d.name}: ${d.state}`);
    card.querySelector('.name').textContent = d.name;
    card.querySelector('.state').innerHTML = badge(d.state);
    card.querySelector('.reason').textContent = `${d.reason}${d.since ? ` — since ${time(d.since)} (${ago(d.since, now)})` : ''}`;
    card.querySelector('.meta').innerHTML = [
      ['criticality', esc(d.criticality)],
      ['breaker', d.breaker ? badge(d.breaker) : '—'],
      ['owner', d.owner ? esc(d.owner) : '<span class="muted">none declared</span>'],
      ['runbook', d.runbook ? link(d.runbook) : '<span class="muted">none declared</span>'],
      ...(d.signals?.backlog !== undefined ? [['backlog', `${d.signals.backlog}${d.signals.oldestDeferredAgeMs ? `, oldest ${dur(d.signals.oldestDeferredAgeMs)}` : ''}`]] : []),
    ].map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('');
    const h = d.history;
    const series = [h.p99, h.errorRatio, h.retryRatio];
    const fmt = [(v) => `${v ?? 0} ms`, (v) => pct(v ?? 0), (v) => (v ?? 0).toFixed(2)];
    const sig = d.signals ?? {};
    const judged = (sig.calls ?? 0) - (sig.rejected ?? 0);
    const latest = [sig.p99, judged > 0 ? ((sig.failures ?? 0) + (sig.invalid ?? 0)) / judged : 0, judged > 0 ? (sig.retries ?? 0) / judged : 0];
    card.querySelectorAll('.spark').forEach((el, i) => {
      el.querySelector('.value').textContent = s.source === 'wall' ? fmt[i](latest[i] !== undefined ? Math.round(latest[i] * 1000) / 1000 : series[i].at(-1)) : '—';
      drawSpark(`${d.name}/${i}`, el.querySelector('.chart'), h.t, series[i], STATE_COLOURS[d.state] ?? '#1b4f9c');
    });
  }
  for (const card of [...list.children]) {
    if (!seen.has(card.dataset.dep)) card.remove();
  }
  if (s.dependencies.length === 0) list.innerHTML = '<p class="muted">No dependencies.</p>';
}

function drawSpark(key, el, t, values, colour) {
  if (!uPlot || t.length < 2) return;
  const width = Math.max(60, el.clientWidth || 100);
  let c = charts.get(key);
  if (c && c.root.isConnected === false) {
    c.destroy();
    c = undefined;
  }
  if (!c) {
    c = new uPlot({
      width, height: 40,
      cursor: { show: false }, legend: { show: false }, select: { show: false },
      axes: [{ show: false }, { show: false }],
      padding: [4, 2, 2, 2],
      scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(max, 1e-9) * 1.1] } },
      series: [{}, { stroke: colour, width: 1.5, fill: `${colour}22` }],
    }, [t, values], el);
    charts.set(key, c);
  } else {
    if (c.series[1].stroke() !== colour) {
      c.destroy();
      charts.delete(key);
      return drawSpark(key, el, t, values, colour);
    }
    c.setData([t, values]);
  }
}

function renderFleet(s) {
  const shown = s.fleet !== undefined;
  $('fleet').hidden = !shown;
  $('fleet-link').hidden = !shown;
  if (!shown) return;
  if (s.fleet === null) {
    $('fleet-list').innerHTML = '<p class="muted">The fleet cannot be read now.</p>';
    return;
  }
  const deps = [...new Set(s.fleet.flatMap((i) => Object.keys(i.dependencies)))].sort();
  $('fleet-list').innerHTML = s.fleet.length === 0 ? '<p class="muted">No instance has published a heartbeat.</p>' : `<table><caption class="muted small">Each instance as its last heartbeat told it</caption>
    <thead><tr><th scope="col">Instance</th><th scope="col">Heartbeat</th><th scope="col">Status</th><th scope="col">Mode</th>${deps.map((d) => `<th scope="col">${esc(d)}</th>`).join('')}</tr></thead>
    <tbody>${s.fleet.map((i) => `<tr><th scope="row">${esc(i.instance)} <span class="muted small">${esc(i.service)}</span></th><td>${i.gone ? badge('down', `gone (${dur(i.ageMs)})`) : `${dur(i.ageMs)} ago`}</td><td>${badge(i.status)}</td><td>${badge(i.mode)}</td>${deps.map((d) => `<td>${i.dependencies[d] ? badge(i.dependencies[d]) : '—'}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function renderFeatures(s) {
  const rows = s.features.map((f) => `<tr><th scope="row">${esc(f.name)}</th><td>${badge(f.enabled ? 'on' : 'off')}</td><td>${f.override ? `by hand: ${esc(f.override)}` : 'auto'}${f.offIn.length ? ` <span class="muted small">(off in ${esc(f.offIn.join(', '))})</span>` : ''}</td><td>${esc(f.owner)}${f.expired ? ' <span class="badge s-warning">expired</span>' : ''}</td></tr>`);
  const off = s.features.filter((f) => !f.enabled).map((f) => f.name);
  $('feature-list').innerHTML = `<p>Mode ${s.mode ? badge(s.mode.mode) : '—'} ${s.mode ? esc(s.mode.reason) : ''}</p>
    ${s.features.length ? `<p>${off.length ? `Off now: <strong>${esc(off.join(', '))}</strong>` : 'Every feature is on.'}</p>
    <div class="table-wrap" tabindex="0" role="region" aria-label="Feature switches"><table><caption class="muted small">Feature switches</caption><thead><tr><th scope="col">Feature</th><th scope="col">Now</th><th scope="col">Control</th><th scope="col">Owner</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>` : '<p class="muted">No features declared.</p>'}`;
}

function renderOperations(s) {
  $('operation-list').innerHTML = s.operations.length === 0 ? '<p class="muted">No operations.</p>' : `<table><caption class="muted small">Outcomes since the service started</caption>
    <thead><tr><th scope="col">Operation</th><th scope="col">Capability</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Success</th><th scope="col" class="num">Degraded</th><th scope="col" class="num">Shed</th><th scope="col" class="num">Failed</th></tr></thead>
    <tbody>${s.operations.map((o) => `<tr><th scope="row">${esc(o.name)} <span class="muted small">${esc(o.priority)}</span></th><td>${esc(o.capability ?? '—')}</td><td class="num">${o.counts.requests}</td><td class="num">${pct(o.rates.success)}</td><td class="num">${pct(o.rates.degraded)}</td><td class="num">${pct(o.rates.shed)}</td><td class="num">${pct(o.rates.failed)}</td></tr>`).join('')}</tbody></table>`;
}

function renderTopology(s) {
  const ops = [...new Set(s.topology.edges.map((e) => e.from).concat(s.operations.map((o) => o.name)))];
  const deps = s.dependencies.map((d) => d.name);
  if (ops.length === 0 && deps.length === 0) {
    $('topology-graph').innerHTML = '<p class="muted">Nothing declared.</p>';
    return;
  }
  const row = 44;
  const height = Math.max(ops.length, deps.length) * row + 10;
  const y = (i) => 10 + i * row;
  const state = Object.fromEntries(s.dependencies.map((d) => [d.name, d.state]));
  const edges = s.topology.edges.map((e) => {
    const a = ops.indexOf(e.from);
    const b = deps.indexOf(e.to);
    if (a < 0 || b < 0) return '';
    const colour = STATE_COLOURS[state[e.to]] ?? '#4a5260';
    return `<path class="edge" stroke="${colour}" d="M200 ${y(a) + 16} C 300 ${y(a) + 16}, 300 ${y(b) + 16}, 400 ${y(b) + 16}"><title>${esc(e.from)} → ${esc(e.to)} (${esc(state[e.to])})</title></path>`;
  });
  const node = (x, i, label, extra, colour) => `<g class="node"><rect x="${x}" y="${y(i)}" width="190" height="32" rx="6" stroke="${colour ?? '#d0d5dc'}"/><text x="${x + 10}" y="${y(i) + 21}">${esc(label)}${extra ? ` · ${esc(extra)}` : ''}</text></g>`;
  $('topology-graph').innerHTML = `<svg viewBox="0 0 600 ${height}" role="img" aria-label="Operations and the dependencies they call">
    ${edges.join('')}
    ${ops.map((o, i) => node(5, i, o)).join('')}
    ${deps.map((d, i) => node(405, i, d, state[d], STATE_COLOURS[state[d]])).join('')}
  </svg>`;
}

function renderTimeline(s) {
  const kinds = [...new Set(s.timeline.map((e) => e.kind))].sort();
  const sel = $('filter-kind');
  const have = [...sel.options].map((o) => o.value).slice(1);
  if (kinds.join() !== have.join()) {
    const cur = sel.value;
    sel.innerHTML = `<option value="">all</option>${kinds.map((k) => `<option>${esc(k)}</option>`).join('')}`;
    sel.value = kinds.includes(cur) ? cur : '';
  }
  const kind = sel.value;
  const sev = $('filter-severity').value;
  const text = $('filter-text').value.trim().toLowerCase();
  const shown = s.timeline.filter((e) => (!kind || e.kind === kind) && (!sev || e.severity === sev) && (!text || e.title.toLowerCase().includes(text))).slice(-200).reverse();
  const markers = new Set(['note', 'deploy', 'incident', 'config', 'flag']);
  $('timeline-list').innerHTML = shown.length === 0 ? '<li class="muted">No entries.</li>' : shown.map((e) => `<li class="${markers.has(e.kind) ? 'marker' : ''}"><time datetime="${new Date(e.at).toISOString()}">${time(e.at)}</time><span class="kind badge ${cls(e.severity)}">${esc(e.kind)}</span><span class="title">${e.instance ? `<span class="muted">[${esc(e.instance)}]</span> ` : ''}${esc(e.title)}${e.kind === 'note' && e.data?.author ? ` <span class="muted">— ${esc(e.data.author)}</span>` : ''}</span></li>`).join('');
}

function renderActions(s) {
  $('actions').hidden = !s.actions;
  $('actions-link').hidden = !s.actions;
  if (!s.actions) return;
  const sel = $('act-feature');
  const names = s.features.map((f) => f.name);
  if ([...sel.options].map((o) => o.value).join() !== names.join()) sel.innerHTML = names.map((n) => `<option>${esc(n)}</option>`).join('');
}

async function act(name, body) {
  const out = $('action-result');
  const token = $('act-token').value;
  const by = $('act-by').value.trim();
  if (!token || !by) {
    out.textContent = 'Enter the operator token and your name first.';
    return false;
  }
  try {
    const res = await fetch(`actions/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-blastwall-action': '1' },
      body: JSON.stringify({ ...body, by }),
      credentials: 'omit',
    });
    const json = await res.json().catch(() => ({}));
    out.textContent = res.ok ? `Done: ${name}.` : `Refused (${res.status}): ${json.detail ?? res.statusText}`;
    return res.ok;
  } catch {
    out.textContent = 'The dashboard could not be reached.';
    return false;
  }
}

function wire(formId, build) {
  $(formId).addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const data = Object.fromEntries(new FormData(form));
    const [name, body] = build(data, ev.submitter?.value);
    if (await act(name, body)) form.reset();
  });
}
wire('form-mode', (d, op) => (op === 'clear-mode' ? ['clear-mode', { reason: d.reason }] : ['mode', { mode: d.mode, reason: d.reason }]));
wire('form-feature', (d) => ['feature', { feature: d.feature, state: d.state, reason: d.reason }]);
wire('form-note', (d) => ['note', { text: d.text }]);
wire('form-deploy', (d) => ['deploy', { version: d.version }]);
wire('form-incident', (d) => ['incident', { title: d.title, lead: d.lead }]);
for (const id of ['filter-kind', 'filter-severity', 'filter-text']) $(id).addEventListener('input', () => last && renderTimeline(last));
$('timeline-filter').addEventListener('submit', (e) => e.preventDefault());
$('form-who').addEventListener('submit', (e) => e.preventDefault());

function connect() {
  const es = new EventSource('events');
  es.addEventListener('open', () => { $('connection').textContent = 'live'; });
  es.addEventListener('state', (ev) => {
    $('connection').textContent = 'live';
    render(JSON.parse(ev.data));
    document.body.dataset.updates = String(Number(document.body.dataset.updates ?? 0) + 1);
  });
  es.addEventListener('error', () => { $('connection').textContent = 'reconnecting…'; });
}

try {
  const res = await fetch('state.json', { cache: 'no-store' });
  if (res.ok) render(await res.json());
} catch {
  $('connection').textContent = 'cannot reach the service';
}
connect();
