// qldb-dr console: one page, three views (#/ overview, #/execution/<arn>, #/drill/<id>), each
// polling the JSON API and redrawn only when what it shows has changed. No build step.
"use strict";

const POLL_MS = 1500;
const main = document.getElementById("main");
let timer = null;
let lastBody = null;
let selected = null; // the state whose input and output are shown
let overview = { local: false, regions: [] };

// -- helpers ---------------------------------------------------------------------------------------

const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const num = (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("en-US"));
const secs = (v) => (v === null || v === undefined ? "—" : `${Number(v).toFixed(1)} s`);
const time = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z").replace("Z", " UTC") : "—");
const chip = (status) => (status ? `<span class="chip ${esc(status)}">${esc(status)}</span>` : "");
const short = (arn) => String(arn || "").split(":").pop();

async function api(path, body) {
  const options = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) {
    const error = new Error(data.error || response.statusText);
    error.hint = data.hint;
    error.unreachable = data.unreachable;
    throw error;
  }
  return data;
}

function show(html) {
  if (html === lastBody) return; // nothing changed: keep focus, selection and scroll
  lastBody = html;
  main.innerHTML = html;
  bind();
}

function poll(render) {
  clearInterval(timer);
  lastBody = null;
  const tick = async () => {
    try {
      show(await render());
    } catch (error) {
      show(`<p class="error" role="alert">${esc(error.message)}</p>`);
    }
  };
  tick();
  timer = setInterval(tick, POLL_MS);
}

// -- the header: regions ---------------------------------------------------------------------------

async function header() {
  try {
    overview = await api("/api/overview");
  } catch (error) {
    return;
  }
  document.getElementById("where").textContent = overview.local ? `local endpoint ${overview.endpoint}` : "AWS";
  document.getElementById("regions").innerHTML = overview.regions
    .map((r) => `<li class="region ${r.reachable ? "" : "lost"}" title="${esc(r.error || "")}"><span class="dot" aria-hidden="true"></span>` +
      `${r.role === "primary" ? "Primary" : "DR"} ${esc(r.region)}: ${r.reachable ? "reachable" : "UNREACHABLE"}</li>`)
    .join("");
  document.getElementById("open-drill").disabled = !overview.local;
  document.getElementById("open-drill").title = overview.local ? "" : "drills need the local endpoint";
}

// -- the overview ----------------------------------------------------------------------------------

async function renderOverview() {
  const [drills, restores, points, backups, restoreRuns] = await Promise.all([
    api("/api/drills").catch((e) => ({ error: e.message })),
    api("/api/restores").catch((e) => ({ error: e.message })),
    api("/api/recovery-points").catch((e) => ({ error: e.message })),
    api("/api/executions?workflow=backup&limit=8").catch((e) => ({ error: e.message })),
    api("/api/executions?workflow=restore&limit=8").catch((e) => ({ error: e.message })),
  ]);
  return `<h1>Disaster recovery</h1>
    <p class="muted">Backups run in the primary region and replicate to the DR vault; restores run in the DR region from the DR vault alone.</p>
    <div class="section-head"><h2>Drills</h2></div>${drillTable(drills)}
    <h2>Restores (DR region)</h2>${restoreTable(restores)}
    <div class="grid">
      <section><h2>Backups (primary region)</h2>${executionList(backups)}</section>
      <section><h2>Restore executions (DR region)</h2>${executionList(restoreRuns)}</section>
    </div>
    <h2>Recovery points</h2>${pointTables(points)}`;
}

function failed(data) {
  return data && data.error ? `<p class="error">${esc(data.error)}</p>` : null;
}

function drillTable(drills) {
  if (failed(drills)) return failed(drills);
  if (!drills.length) return `<p class="muted">No drills yet. <em>Start drill</em> fails a region over on this machine in about two minutes.</p>`;
  return `<table><thead><tr><th>Drill</th><th>Strategy</th><th>Status</th><th class="num">RPO achieved</th>
    <th class="num">Transactions lost</th><th class="num">RTO</th><th>Started</th></tr></thead><tbody>` +
    drills.map((d) => `<tr><td><a href="#/drill/${esc(d.drillId)}">${esc(d.drillId)}</a></td><td>${esc(d.strategy || d.kind)} ${esc(d.mode || "")}</td>
      <td>${d.running ? chip("RUNNING") + " " + esc(d.phase || "") : chip(d.status)}</td><td class="num">${secs(d.rpoSeconds)}</td>
      <td class="num">${num(d.lostTransactions)}</td><td class="num">${secs(d.rtoSeconds)}</td><td>${time(d.startedAt)}</td></tr>`).join("") +
    "</tbody></table>";
}

function restoreTable(restores) {
  if (failed(restores)) return failed(restores);
  if (!restores.length) return `<p class="muted">No restores in the DR region.</p>`;
  return `<table><thead><tr><th>Restore</th><th>Source → target</th><th>State</th><th>Verification</th>
    <th class="num">To block</th><th class="num">Revisions</th><th class="num">RTO</th><th>Started</th></tr></thead><tbody>` +
    restores.map((r) => `<tr><td><a href="#/execution/${encodeURIComponent(r.latest)}">${esc(r.restoreId)}</a>${r.standby ? " (standby)" : ""}
      ${r.executions.length > 1 ? `<span class="muted">· ${r.executions.length} runs</span>` : ""}</td>
      <td>${esc(r.sourceLedger)} → ${esc(r.targetLedger)}</td><td>${chip(r.state)}</td><td>${chip(r.result) || "—"}</td>
      <td class="num">${num(r.restoredToBlock)}</td><td class="num">${num(r.revisions)}</td><td class="num">${secs(r.durationSeconds)}</td>
      <td>${time(r.startedAt)}</td></tr>`).join("") + "</tbody></table>";
}

function executionList(rows) {
  if (failed(rows)) return failed(rows);
  if (!rows.length) return `<p class="muted">None yet.</p>`;
  return `<table><thead><tr><th>Execution</th><th>Status</th><th>Started</th></tr></thead><tbody>` +
    rows.map((e) => `<tr><td><a href="#/execution/${encodeURIComponent(e.arn)}">${esc(e.name)}</a></td><td>${chip(e.status)}</td>
      <td>${time(e.startedAt)}</td></tr>`).join("") + "</tbody></table>";
}

function pointTables(points) {
  if (failed(points)) return failed(points);
  if (!points.ledgers.length) return `<p class="muted">The DR vault holds no recovery points.</p>`;
  return points.ledgers.map((l, i) => {
    const rows = l.points.slice(-8).reverse();
    return `<details ${i < 3 ? "open" : ""}><summary><strong>${esc(l.ledger)}</strong> — ${l.points.length} recovery points
      ${l.primaryReachable ? "" : `<span class="chip failed">primary vault unreachable</span>`}</summary>
      <table><thead><tr><th>Recovery point</th><th>Window (UTC)</th><th class="num">Blocks</th><th class="num">Revisions</th>
      <th>Verified</th><th>Replication</th></tr></thead><tbody>` +
      rows.map((p) => `<tr><td><code>${esc(p.recoveryPointId)}</code></td><td>${time(p.windowStart)} → ${time(p.windowEnd).slice(11)}</td>
        <td class="num">${p.firstBlock === null ? "none" : `${num(p.firstBlock)}–${num(p.lastBlock)}`}</td><td class="num">${num(p.revisions)}</td>
        <td>${chip(p.verification)}</td><td>${esc(p.replication)}</td></tr>`).join("") + "</tbody></table></details>";
  }).join("");
}

// -- one execution: the graph, its Map runs, the restore -------------------------------------------

async function renderExecution(arn) {
  const e = await api(`/api/execution?arn=${encodeURIComponent(arn)}`);
  return executionView(e, true);
}

function executionView(e, heading) {
  const restore = e.restore || {};
  const retries = (restore.retries || []).length;
  return `${heading ? `<h1>${esc(e.name)}</h1>` : `<h2>Restore execution <a href="#/execution/${encodeURIComponent(e.arn)}">${esc(e.name)}</a></h2>`}
    <p>${chip(e.status)} <strong>${esc(e.workflow)}</strong> in ${esc(e.region)} · started ${time(e.startedAt)}
      ${e.stoppedAt ? ` · ended ${time(e.stoppedAt)}` : ""}</p>
    ${e.error ? `<div class="callout" role="alert"><strong>${esc(e.error)}</strong><br>${esc(e.cause || "")}</div>` : ""}
    ${restore.restoreId ? restoreView(e, restore, retries) : ""}
    <div class="layout">
      <section aria-label="Workflow graph"><div class="graph">${graph(e)}</div>
        <div class="legend" aria-hidden="true"><span class="idle">not run</span><span class="running">running</span>
        <span class="succeeded">succeeded</span><span class="failed">failed</span><span class="caught">caught (a Catch went on)</span>
        <span class="catch-line">dashed orange: a Catch</span></div></section>
      <aside class="panel" aria-label="State details">${stateDetails(e)}${mapRuns(e)}</aside>
    </div>`;
}

function restoreView(e, restore, retries) {
  const p = restore.progress || {};
  const report = restore.report;
  const items = restore.failedItems || [];
  const canRetry = restore.retryable && !(restore.retries || []).some(() => false);
  let html = `<div class="facts">
    <div class="fact"><div class="label">Partitions done</div><div class="value">${num(p.partitionsDone)} / ${num(p.partitionsTotal)}</div></div>
    <div class="fact"><div class="label">Revisions applied</div><div class="value">${num(p.revisionsApplied)} / ${num(p.revisionsPlanned)}</div></div>
    <div class="fact"><div class="label">Revisions/s</div><div class="value">${num(Math.round(p.revisionsPerSecond || 0))}</div></div>
    <div class="fact"><div class="label">ETA</div><div class="value">${p.etaSeconds === null || p.etaSeconds === undefined ? "—" : secs(p.etaSeconds)}</div></div>
    ${report && e.status !== "RUNNING" ? `<div class="fact ${report.status === "OK" ? "good" : "bad"}"><div class="label">Verification</div><div class="value">${esc(report.status)}</div></div>
    <div class="fact"><div class="label">Duration (RTO)</div><div class="value">${secs(report.durationSeconds)}</div></div>` : ""}
  </div>`;
  if (items.length && e.status !== "RUNNING") {
    html += `<section class="callout" aria-labelledby="failed-items"><h3 id="failed-items">Failed items (${items.length})</h3>
      <table><thead><tr><th>Map</th><th>Item</th><th>Error</th><th>Cause</th></tr></thead><tbody>` +
      items.slice(0, 20).map((i) => `<tr><td>${esc(i.map)}</td><td><code>${esc(i.item.partition !== undefined ? `partition ${i.item.partition}` : JSON.stringify(i.item))}</code></td>
        <td><strong>${esc(i.error)}</strong></td><td>${esc(i.cause)}</td></tr>`).join("") + "</tbody></table></section>";
  }
  if (canRetry) {
    html += `<p><button type="button" class="danger" data-retry="${esc(e.arn)}">Retry failed batches</button>
      <span class="muted">runs only the partitions that did not finish; finished ones are version-guarded and skipped</span></p>`;
  }
  if (retries) html += `<p class="muted">Retried ${retries} time${retries > 1 ? "s" : ""}: ${(restore.retries || []).map(esc).join(", ")}</p>`;
  if (report && report.verification && e.status !== "RUNNING") {
    html += `<details><summary>Verification checks</summary><table><tbody>` +
      (report.verification.checks || []).map((c) => `<tr><td>${esc(c.name)}</td><td>${chip(c.status)}</td><td>${esc(c.summary)}</td></tr>`).join("") +
      "</tbody></table></details>";
  }
  return html;
}

const GLYPH = { succeeded: "✓", failed: "✗", caught: "⚠", running: "●", idle: "" };

function graph(e) {
  const g = e.graph;
  const pad = 12;
  const edges = g.edges.map((edge) => {
    const d = edge.points.map((p, i) => `${i ? "L" : "M"}${p[0] + pad},${p[1] + pad}`).join(" ");
    const mid = edge.points[Math.floor(edge.points.length / 2)];
    const label = edge.label && edge.kind !== "next" && edge.route !== "lane" ? `<text class="edge-label" x="${mid[0] + pad + 4}" y="${mid[1] + pad - 3}">${esc(edge.label.slice(0, 28))}</text>` : "";
    return `<path class="edge ${esc(edge.kind)}" d="${d}" marker-end="url(#arrow)"></path>${label}`;
  }).join("");
  const containers = g.nodes.filter((n) => g.nodes.some((m) => m.parent === n.id));
  const nodes = [...containers, ...g.nodes.filter((n) => !containers.includes(n))].map((n) => {
    const s = e.states[n.id] || {};
    const status = s.status || "idle";
    const isMap = containers.includes(n);
    const run = isMap ? (e.mapRuns || []).filter((r) => r.state === n.name).slice(-1)[0] : null;
    const title = isMap ? `${n.name} (${n.distributed ? "Distributed Map" : "Map"})` : n.name;
    const x = n.x + pad, y = n.y + pad;
    const text = isMap ? `<text x="${x + 10}" y="${y + 19}" font-weight="600">${esc(GLYPH[status])} ${esc(title)}</text>`
      : `<text x="${x + n.w / 2}" y="${y + n.h / 2 + 4}" text-anchor="middle">${GLYPH[status] ? `<tspan class="glyph">${GLYPH[status]}</tspan> ` : ""}${esc(n.name)}</text>`;
    const bar = run ? mapBar(run, x + 10, y + 27, n.w - 20) : "";
    const counts = s.counts ? ` — ${s.counts.succeeded || 0} of ${s.counts.total || 0} items succeeded, ${s.counts.failed || 0} failed` : "";
    return `<g class="node ${esc(status)} ${esc(n.type)} ${isMap ? "map" : ""} ${selected === n.id ? "selected" : ""}" data-state="${esc(n.id)}"
      role="button" tabindex="0" aria-label="${esc(n.name)}: ${status === "idle" ? "not run" : status}${esc(counts)}">
      <rect class="box" x="${x}" y="${y}" width="${n.w}" height="${n.h}" rx="${n.type === "Choice" ? 18 : 6}"></rect>${text}${bar}</g>`;
  }).join("");
  return `<svg width="${g.width + 2 * pad}" height="${g.height + 2 * pad}" role="img" aria-label="The ${esc(e.workflow)} workflow, each state coloured by its status">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
    <path d="M0,0 L10,5 L0,10 z" fill="#8c959f"></path></marker></defs>${edges}${nodes}</svg>`;
}

function mapBar(run, x, y, width) {
  const c = run.counts, total = Math.max(c.total || 0, 1);
  let at = x;
  return ["succeeded", "failed", "running", "pending"].map((k) => {
    const w = (width * (c[k] || 0)) / total;
    const part = `<rect x="${at}" y="${y}" width="${w}" height="10" class="${k}" fill="${{ succeeded: "#2da44e", failed: "#cf222e", running: "#54aeff", pending: "#d0d7de" }[k]}"></rect>`;
    at += w;
    return part;
  }).join("") + `<rect x="${x}" y="${y}" width="${width}" height="10" fill="none" stroke="#d0d7de"></rect>`;
}

function stateDetails(e) {
  if (!selected || !e.graph.nodes.some((n) => n.id === selected)) {
    return `<h2>States</h2><p class="muted">Select a state in the graph to see its input and output.</p>`;
  }
  const s = e.states[selected] || {};
  const node = e.graph.nodes.find((n) => n.id === selected);
  return `<h2>${esc(node.name)} <span class="muted">${esc(node.type)}</span></h2>
    <p>${chip(s.status || "not run")} ${s.retries ? `retried ${s.retries}×` : ""}</p>
    ${node.comment ? `<p class="muted">${esc(node.comment)}</p>` : ""}
    ${s.enteredAt ? `<p>entered ${time(s.enteredAt)}${s.exitedAt ? `<br>exited ${time(s.exitedAt)}` : ""}</p>` : ""}
    ${s.error ? `<p class="error">${esc(s.error)}</p>` : ""}${s.lastError ? `<p class="muted">last retried error: ${esc(s.lastError)}</p>` : ""}
    ${s.counts ? `<p>${num(s.counts.succeeded)} of ${num(s.counts.total)} items succeeded, ${num(s.counts.failed)} failed, ${num(s.counts.running)} running</p>` : ""}
    ${s.input ? `<details open><summary>Input</summary><pre>${esc(pretty(s.input))}</pre></details>` : ""}
    ${s.output ? `<details><summary>Output</summary><pre>${esc(pretty(s.output))}</pre></details>` : ""}`;
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (error) {
    return text;
  }
}

function mapRuns(e) {
  if (!(e.mapRuns || []).length) return "";
  return `<h3>Distributed Map runs</h3>` + e.mapRuns.map((r) => {
    const c = r.counts, total = Math.max(c.total || 0, 1);
    const bar = ["succeeded", "failed", "running", "pending"].map((k) => `<span class="${k}" style="width:${(100 * (c[k] || 0)) / total}%"></span>`).join("");
    return `<div class="maprun"><strong>${esc(r.state)}</strong> ${chip(r.status)}
      <div class="bar" role="progressbar" aria-label="${esc(r.state)} items" aria-valuemin="0" aria-valuemax="${c.total || 0}" aria-valuenow="${c.succeeded || 0}">${bar}</div>
      <div class="counts">${num(c.succeeded)} succeeded · ${num(c.failed)} failed · ${num(c.running)} running · ${num(c.pending)} pending of ${num(c.total)}</div></div>`;
  }).join("");
}

// -- one drill --------------------------------------------------------------------------------------

async function renderDrill(id) {
  const d = await api(`/api/drill?id=${encodeURIComponent(id)}`);
  const r = d.restore || {};
  const report = d.report;
  const latest = (r.executions || []).slice(-1)[0];
  const execution = latest ? await api(`/api/execution?arn=${encodeURIComponent(latest)}`).catch(() => null) : null;
  const lost = Boolean(d.lossAt);
  let html = `<h1>Drill ${esc(d.drillId)}</h1>
    <p aria-live="polite"><span class="chip ${d.running ? "running" : esc(d.status || "")}">${esc(d.running ? d.phase : d.status || d.phase)}</span>
      ${esc(d.sourceLedger || "")} in ${esc(d.primaryRegion || "")} → ${esc(d.targetLedger || "")} in ${esc(d.drRegion || "")}</p>
    ${d.error && !d.running ? `<div class="callout" role="alert"><strong>The drill stopped</strong><pre>${esc(d.error)}</pre></div>` : ""}
    ${report ? drillReport(report) : ""}
    <div class="facts">
      <div class="fact"><div class="label">Elapsed</div><div class="value">${secs(d.elapsedSeconds)}</div></div>
      <div class="fact"><div class="label">Writes acknowledged</div><div class="value">${num(d.acknowledgedWrites)}</div></div>
      <div class="fact"><div class="label">Writes failed</div><div class="value">${num(d.failedWrites)}</div></div>
      <div class="fact"><div class="label">Backups ok / started</div><div class="value">${num((d.backups || {}).succeeded)} / ${num((d.backups || {}).started)}</div></div>
      <div class="fact"><div class="label">Recovery points primary / DR</div><div class="value">${num((d.recoveryPoints || {}).primary)} / ${num((d.recoveryPoints || {}).dr)}</div></div>
      <div class="fact ${lost ? "bad" : ""}"><div class="label">${lost ? "Primary region lost at" : "Primary region lost at (due)"}</div><div class="value" style="font-size:15px">${time(d.lossAt || d.lossDueAt).slice(11) || "—"}</div></div>
    </div>`;
  html += `<div class="layout"><section>${execution ? executionView(execution, false) : `<p class="muted">The restore starts once the primary region is lost.</p>`}</section>
    <aside class="panel"><h2>Timeline</h2><ul class="events">${(d.events || []).map((line) => `<li class="${/✗|failed|lost/.test(line) ? "bad" : ""}">${esc(line)}</li>`).join("")}</ul></aside></div>`;
  return html;
}

function drillReport(report) {
  const rpo = report.rpo || {}, rto = report.rto || {};
  const ok = report.status === "OK";
  return `<div class="callout ${ok ? "good" : ""}" role="status"><strong>Drill ${esc(report.status)}</strong>:
      ${ok ? "the restore verified, and the acknowledged writes it lacks are exactly those after its recovery point's window." : "see the checks below."}</div>
    <div class="facts">
      <div class="fact big ${ok ? "good" : "bad"}"><div class="label">RPO achieved</div><div class="value">${secs(rpo.seconds)}</div>
        <div class="label">${num(rpo.lostTransactions)} of ${num(rpo.acknowledgedTransactions)} acknowledged transactions lost · budget ${secs(rpo.budgetSeconds)}</div></div>
      <div class="fact big ${ok ? "good" : "bad"}"><div class="label">RTO — loss to verified restore</div><div class="value">${secs(rto.seconds)}</div>
        <div class="label">the restore itself: ${secs(rto.restoreSeconds)} · ${num((report.restore || {}).executions ? report.restore.executions.length : 0)} executions</div></div>
      <div class="fact big"><div class="label">Revisions restored</div><div class="value">${num(report.revisions)}</div></div>
    </div>
    <table><thead><tr><th>Check</th><th>Status</th><th>Detail</th></tr></thead><tbody>` +
    (report.checks || []).map((c) => `<tr><td>${esc(c.name)}</td><td>${chip(c.status)}</td><td>${esc(c.summary)}
      ${(c.findings || []).slice(0, 3).map((f) => `<br><span class="error">${esc(f.message)}</span>`).join("")}</td></tr>`).join("") +
    `</tbody></table><p class="muted">Report in the DR vault: <code>${esc(report.reportKey || "")}</code></p>`;
}

// -- interactions ----------------------------------------------------------------------------------

function bind() {
  main.querySelectorAll("[data-state]").forEach((node) => {
    const choose = () => {
      selected = node.dataset.state;
      lastBody = null;
      route(false);
    };
    node.addEventListener("click", choose);
    node.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        choose();
      }
    });
  });
  main.querySelectorAll("[data-retry]").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = "Retrying…";
      try {
        const started = await api("/api/restores/retry", { execution: button.dataset.retry });
        if (!location.hash.startsWith("#/drill/")) location.hash = `#/execution/${encodeURIComponent(started.executionArn)}`;
      } catch (error) {
        alert(error.message);
        button.disabled = false;
      }
    });
  });
}

const restoreDialog = document.getElementById("restore-dialog");
const drillDialog = document.getElementById("drill-dialog");
let ledgers = [];

document.getElementById("open-restore").addEventListener("click", async () => {
  document.getElementById("restore-plan").innerHTML = "";
  document.getElementById("restore-start").disabled = true;
  restoreDialog.showModal();
  try {
    ledgers = (await api("/api/recovery-points")).ledgers;
  } catch (error) {
    document.getElementById("restore-plan").innerHTML = `<p class="error">${esc(error.message)}</p>`;
    return;
  }
  const source = document.getElementById("restore-source");
  source.innerHTML = ledgers.map((l) => `<option>${esc(l.ledger)}</option>`).join("");
  fillPoints();
});
document.getElementById("restore-source").addEventListener("change", fillPoints);

function fillPoints() {
  const ledger = ledgers.find((l) => l.ledger === document.getElementById("restore-source").value);
  const points = ledger ? ledger.points.filter((p) => p.replication === "in the DR vault") : [];
  document.getElementById("restore-point").innerHTML = `<option value="">the latest</option>` +
    points.slice().reverse().map((p) => `<option value="${esc(p.recoveryPointId)}">${esc(p.recoveryPointId)} — ends ${time(p.windowEnd)}</option>`).join("");
  document.getElementById("restore-target").value = ledger ? `${ledger.ledger}-restored`.slice(0, 32) : "";
}

function restoreRequest() {
  const form = new FormData(document.getElementById("restore-form"));
  const body = Object.fromEntries(form.entries());
  body.incremental = form.get("incremental") === "on";
  if (body.at) delete body.recoveryPointId;
  return body;
}

document.getElementById("restore-plan-button").addEventListener("click", async () => {
  const out = document.getElementById("restore-plan");
  out.innerHTML = `<p class="muted">Planning: verifying the recovery points in the DR vault…</p>`;
  document.getElementById("restore-start").disabled = true;
  try {
    const { plan } = await api("/api/restores/plan", restoreRequest());
    out.innerHTML = `<h3>Plan</h3><table><tbody>
      <tr><th>Restore</th><td>${esc(plan.sourceLedger)} → ${esc(plan.targetLedger)} (${esc(plan.mode)}) in ${esc(plan.region)}</td></tr>
      <tr><th>Recovery points</th><td>${plan.recoveryPoints.length} ${plan.recoveryPoints.length ? `(${esc(plan.recoveryPoints[0])} … ${esc(plan.recoveryPoints.slice(-1)[0])})` : "— none new"}</td></tr>
      <tr><th>Blocks</th><td>${plan.blocks ? `${num(plan.watermark + 1)} to ${num(plan.cut)} (${num(plan.blocks)} blocks, verified in the vault)` : "none"}</td></tr>
      <tr><th>Tables</th><td>${esc(plan.tables.join(", ") || "(none)")}</td></tr>
      <tr><th>Revisions</th><td>${num(plan.revisions)} in ${num(plan.partitions)} partitions, ${num(plan.maxConcurrency)} at a time</td></tr>
      <tr><th>Estimate</th><td><strong>${secs(plan.estimatedSeconds)}</strong> at ${num(Math.round(plan.revisionsPerSecond))} revisions/s
        (${plan.rateMeasured ? "measured by earlier restores" : "assumed: no earlier restore large enough to learn from"})</td></tr></tbody></table>`;
    document.getElementById("restore-start").disabled = false;
  } catch (error) {
    out.innerHTML = `<p class="error" role="alert">${esc(error.message)}${error.hint ? `<br>${esc(error.hint)}` : ""}</p>`;
  }
});

document.getElementById("restore-start").addEventListener("click", async () => {
  try {
    const started = await api("/api/restores", restoreRequest());
    restoreDialog.close();
    location.hash = `#/execution/${encodeURIComponent(started.executionArn)}`;
  } catch (error) {
    document.getElementById("restore-plan").innerHTML = `<p class="error" role="alert">${esc(error.message)}</p>`;
  }
});
document.getElementById("restore-cancel").addEventListener("click", () => restoreDialog.close());

document.getElementById("open-drill").addEventListener("click", () => {
  document.getElementById("drill-error").textContent = "";
  drillDialog.showModal();
});
document.getElementById("drill-cancel").addEventListener("click", () => drillDialog.close());
document.getElementById("drill-start").addEventListener("click", async () => {
  const form = new FormData(document.getElementById("drill-form"));
  const body = Object.fromEntries(form.entries());
  body.injectReplayFailure = form.get("injectReplayFailure") === "on";
  try {
    const started = await api("/api/drills", body);
    drillDialog.close();
    location.hash = `#/drill/${encodeURIComponent(started.drillId)}`;
  } catch (error) {
    document.getElementById("drill-error").textContent = error.message;
  }
});

// -- routing ---------------------------------------------------------------------------------------

function route(fresh = true) {
  const hash = decodeURIComponent(location.hash.slice(1) || "/");
  if (fresh) {
    selected = null;
    main.focus({ preventScroll: true });
  }
  if (hash.startsWith("/execution/")) poll(() => renderExecution(hash.slice("/execution/".length)));
  else if (hash.startsWith("/drill/")) poll(() => renderDrill(hash.slice("/drill/".length)));
  else poll(renderOverview);
}

window.addEventListener("hashchange", () => route(true));
header();
setInterval(header, 3000);
route(true);
