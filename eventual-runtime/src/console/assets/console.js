// The eventual console: one page, routed by the URL's fragment, reading the internal API.
// Every value from the API reaches the DOM through textContent (the `el` helper), never as HTML.
"use strict";

const API = "/_eventual";
const REFRESH_MS = 2000;
const TOKEN_KEY = "eventual-api-token";

/** An answer of the API that is not a success: its status, kind and message. */
class ApiError extends Error {
  constructor(status, kind, message) {
    super(`${status} ${kind}: ${message}`);
    this.status = status;
    this.kind = kind;
  }
}

/** Calls the internal API; resolves with the JSON answer, rejects with an ApiError. */
async function api(method, path, body) {
  const headers = { "x-eventual-console": "1" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(API + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, "unreachable", `the API does not answer (${error.message})`);
  }
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  if (!response.ok) {
    const error = (json && json.error) || {};
    throw new ApiError(response.status, error.kind || "error", error.message || text || response.statusText);
  }
  return json;
}

/** Makes an element: `attrs` become properties or attributes, strings become text nodes. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "style") Object.assign(node.style, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const enc = encodeURIComponent;
const json = (value) => JSON.stringify(value, null, 2);
const time = (millis) => (millis ? new Date(millis).toISOString().replace("T", " ").replace("Z", "") : "");
const statusBadge = (status) => el("span", { class: `status ${status}`, "data-status": status }, status);
const executionLink = (id) => el("a", { href: `#/executions/${enc(id)}` }, id);
const workflowLink = (name) => el("a", { href: `#/workflows/${enc(name)}` }, name);

/** Shows a message above the page: an error (default) or information. */
function showMessage(text, kind) {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = kind || "";
  box.hidden = !text;
}

/** What to tell the user about a failed call; a 401 asks for the API token. */
function explain(error, what) {
  if (error instanceof ApiError && error.status === 401) {
    askForToken();
    return `${what}: the API requires a token (${error.message})`;
  }
  return `${what}: ${error.message}`;
}

function askForToken() {
  if (document.getElementById("token-form")) return;
  const input = el("input", { type: "password", placeholder: "API token", id: "token" });
  const form = el("form", {
    id: "token-form", class: "card",
    onsubmit: (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value);
      form.remove();
      route();
    },
  }, el("label", {}, "The internal API requires its bearer token (kept for this tab only)", input),
  el("button", { class: "primary" }, "Use token"));
  document.body.insertBefore(form, document.getElementById("view"));
}

// ---- page lifecycle: one page at a time, refreshed while it is shown ----

let page = { generation: 0, timer: null };

/** Starts a page: `render(view, isCurrent)` draws it; `refresh` (if any) redraws live data. */
function startPage(name, build) {
  clearInterval(page.timer);
  const generation = page.generation + 1;
  page = { generation, timer: null };
  const isCurrent = () => page.generation === generation;
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === name);
  }
  const view = document.getElementById("view");
  view.replaceChildren();
  const refresh = build(view, isCurrent);
  if (refresh) {
    page.timer = setInterval(() => {
      if (isCurrent() && !document.hidden) refresh();
    }, REFRESH_MS);
  }
}

function route() {
  showMessage("");
  const hash = location.hash.replace(/^#/, "") || "/executions";
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  if (parts[0] === "executions" && parts.length === 1) return startPage("executions", (v, c) => executionsPage(v, c, params));
  if (parts[0] === "executions" && parts.length === 2) return startPage("executions", (v, c) => executionPage(v, c, parts[1]));
  if (parts[0] === "workflows" && parts.length === 1) return startPage("workflows", workflowsPage);
  if (parts[0] === "workflows" && parts.length === 2) return startPage("workflows", (v, c) => workflowPage(v, c, parts[1]));
  if (parts[0] === "dlq" && parts.length === 1) return startPage("dlq", dlqPage);
  startPage("", (view) => {
    view.append(el("h1", {}, "No such page"), el("p", {}, "The console has no page at ", el("code", {}, `#${hash}`), "."),
      el("p", {}, el("a", { href: "#/executions" }, "Go to the executions")));
  });
}

// ---- executions list ----

const STATUSES = ["", "running", "succeeded", "failed", "timed_out", "cancelled", "terminated", "blocked"];

/** `k=v, k2=v2` into [[k, v], ...]; throws on a pair without `=`. */
function parseAttributes(text) {
  return text.split(",").map((pair) => pair.trim()).filter(Boolean).map((pair) => {
    const at = pair.indexOf("=");
    if (at < 1) throw new Error(`attribute filter "${pair}" is not key=value`);
    return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
  });
}

function executionsPage(view, isCurrent, params) {
  const field = (name) => params.get(name) || "";
  const workflow = el("input", { name: "workflow", list: "workflow-names", value: field("workflow"), placeholder: "any" });
  const status = el("select", { name: "status" }, STATUSES.map((s) => el("option", { value: s, selected: s === field("status") }, s || "any")));
  const attrs = el("input", { name: "attrs", value: field("attrs"), placeholder: "customer=ada, region=eu", size: 28 });
  const after = el("input", { name: "after", type: "datetime-local", step: 1, value: field("after") });
  const before = el("input", { name: "before", type: "datetime-local", step: 1, value: field("before") });
  const names = el("datalist", { id: "workflow-names" });
  const form = el("form", {
    class: "filters",
    onsubmit: (event) => {
      event.preventDefault();
      const next = new URLSearchParams();
      for (const [key, input] of Object.entries({ workflow, status, attrs, after, before })) {
        if (input.value) next.set(key, input.value);
      }
      location.hash = `#/executions?${next}`;
    },
  }, el("label", {}, "Workflow", workflow), el("label", {}, "Status", status),
  el("label", {}, "Attributes", attrs), el("label", {}, "Started after (UTC)", after),
  el("label", {}, "Started before (UTC)", before), el("button", { class: "primary" }, "Filter"), names);
  const table = el("tbody", {});
  const previous = el("button", { type: "button", disabled: true }, "← Newer");
  const next = el("button", { type: "button", disabled: true }, "Older →");
  const pageInfo = el("span", { class: "muted" });
  view.append(el("h1", {}, "Executions"), form,
    el("table", { id: "executions" }, el("thead", {}, el("tr", {}, ["Execution", "Workflow", "Status", "Started (UTC)", "Updated (UTC)"].map((h) => el("th", {}, h)))), table),
    el("div", { class: "pager" }, previous, next, pageInfo));

  api("GET", "/workflows").then((answer) => {
    names.replaceChildren(...answer.workflows.map((w) => el("option", { value: w.name })));
  }).catch(() => {});

  // Tokens of the pages before this one (the first page's is null) and of the next one.
  const tokens = [null];
  let nextToken = null;
  const timeBound = (value) => (value ? Date.parse(`${value}Z`) : null);

  async function load() {
    const query = new URLSearchParams({ limit: "50" });
    if (workflow.value) query.set("workflow", workflow.value);
    if (status.value) query.set("status", status.value);
    let filters;
    try { filters = parseAttributes(attrs.value); } catch (error) { showMessage(error.message); return; }
    for (const [key, value] of filters) query.set(`attr.${key}`, value);
    const token = tokens[tokens.length - 1];
    if (token) query.set("next_token", token);
    try {
      const answer = await api("GET", `/executions?${query}`);
      if (!isCurrent()) return;
      const [from, to] = [timeBound(after.value), timeBound(before.value)];
      const rows = answer.executions.filter((row) => (from === null || row.created_at >= from) && (to === null || row.created_at <= to));
      table.replaceChildren(...rows.map((row) => el("tr", { class: "execution-row", "data-id": row.id },
        el("td", { class: "id" }, executionLink(row.id)), el("td", {}, workflowLink(row.workflow)),
        el("td", {}, statusBadge(row.status)), el("td", {}, time(row.created_at)), el("td", {}, time(row.updated_at)))));
      if (rows.length === 0) table.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No executions match.")));
      nextToken = answer.next_token || null;
      next.disabled = !nextToken;
      previous.disabled = tokens.length === 1;
      pageInfo.textContent = `page ${tokens.length}` + (answer.executions.length !== rows.length ? ` (${answer.executions.length - rows.length} outside the time range)` : "");
      showMessage("");
    } catch (error) {
      if (isCurrent()) showMessage(explain(error, "Cannot list the executions"));
    }
  }
  next.addEventListener("click", () => { tokens.push(nextToken); load(); });
  previous.addEventListener("click", () => { tokens.pop(); load(); });
  load();
  return load;
}

// ---- one execution ----

function executionPage(view, isCurrent, id) {
  const summary = el("div", { class: "card" }, el("p", { class: "muted" }, "Loading…"));
  const io = el("div", { class: "columns" });
  const timeline = el("div", { id: "timeline" });
  const raw = el("pre", { id: "raw-history" });
  view.append(el("h1", {}, "Execution ", el("span", { class: "id" }, id)), summary,
    el("h2", {}, "Timeline"), timeline,
    el("h2", {}, "Actions"), actions(id, () => load()),
    el("h2", {}, "Input and output"), io,
    el("h2", {}, "History"), el("details", {}, el("summary", {}, "Raw history (JSON)"), raw));
  let lastShown = "";

  async function load() {
    let row;
    let history;
    try {
      [row, history] = await Promise.all([
        api("GET", `/executions/${enc(id)}`),
        api("GET", `/executions/${enc(id)}/history`),
      ]);
    } catch (error) {
      if (!isCurrent()) return;
      const what = error.status === 404 ? `No execution "${id}"` : `Cannot load execution "${id}"`;
      showMessage(explain(error, what));
      summary.replaceChildren(el("p", { class: "muted" }, error.status === 404 ? "This execution does not exist (or its retention has passed)." : "Not available."));
      return;
    }
    if (!isCurrent()) return;
    const shown = JSON.stringify([row, history.events.length]);
    if (shown === lastShown && row.status !== "running") return;
    lastShown = shown;
    const events = history.events || [];
    const started = events.find((e) => e.type === "WorkflowStarted");
    summary.replaceChildren(el("dl", { class: "facts" },
      el("dt", {}, "Status"), el("dd", { id: "execution-status" }, statusBadge(row.status)),
      el("dt", {}, "Workflow"), el("dd", {}, workflowLink(row.workflow)),
      el("dt", {}, "Correlation id"), el("dd", {}, row.correlation_id),
      row.parent && [el("dt", {}, "Parent"), el("dd", {}, executionLink(row.parent.execution_id), ` (step ${row.parent.seq})`)],
      el("dt", {}, "Started"), el("dd", {}, time(row.created_at)),
      el("dt", {}, "Updated"), el("dd", {}, time(row.updated_at)),
      started && started.run_id && [el("dt", {}, "Run"), el("dd", {}, `${started.run_id} (continued from ${started.continued_from})`)],
      row.error && [el("dt", {}, "Blocked by"), el("dd", {}, row.error)]));
    io.replaceChildren(
      el("div", {}, el("h3", {}, "Input"), el("pre", { id: "execution-input" }, started ? json(started.input) : "(not in this history)")),
      el("div", {}, el("h3", {}, "Output"), el("pre", { id: "execution-output" }, row.outcome ? json(row.outcome) : "(still running)")));
    timeline.replaceChildren(gantt(events, row.status === "running" ? Date.now() : null));
    raw.textContent = json(history);
  }
  load();
  return load;
}

/** The signal form and the cancel and terminate buttons; answers are shown as messages. */
function actions(id, reload) {
  const report = (text, ok) => showMessage(text, ok ? "info" : "");
  const name = el("input", { name: "signal", placeholder: "signal name", required: true });
  const payload = el("textarea", { name: "payload", placeholder: "payload (JSON), e.g. \"yes\" or {\"ok\": true}" }, "null");
  const reason = el("input", { name: "reason", placeholder: "reason (optional)" });
  const signal = el("form", {
    id: "signal-form",
    onsubmit: async (event) => {
      event.preventDefault();
      let body;
      try { body = JSON.parse(payload.value || "null"); } catch (error) { report(`The payload is not JSON: ${error.message}`, false); return; }
      try {
        await api("POST", `/executions/${enc(id)}/signals`, { name: name.value, payload: body });
        report(`Signal "${name.value}" sent.`, true);
      } catch (error) { report(explain(error, "The signal was refused"), false); }
    },
  }, el("label", {}, "Signal", name), el("label", {}, "Payload", payload), el("div", {}, el("button", { class: "primary" }, "Send signal")));
  const end = (verb, done) => async () => {
    try {
      await api("POST", `/executions/${enc(id)}/${verb}`, reason.value ? { reason: reason.value } : {});
      report(done, true);
      reload();
    } catch (error) { report(explain(error, `Cannot ${verb}`), false); }
  };
  return el("div", { class: "actions card" }, signal,
    el("div", {}, el("label", {}, "Reason", reason), el("p", {}, "Cancel runs the compensations; terminate ends at once without them."),
      el("div", { class: "row-buttons" },
        el("button", { id: "cancel", class: "danger", type: "button", onclick: end("cancel", "Cancellation requested.") }, "Cancel"),
        el("button", { id: "terminate", class: "danger", type: "button", onclick: end("terminate", "Terminated.") }, "Terminate"))));
}

// ---- the timeline: rows of bars and marks, from the history ----

/**
 * The rows of the timeline: the workflow itself, then one per step in step order. A row has
 * `kind`, `label`, an optional `link`, and `spans` ({from, to, cls, title}) and `marks`
 * ({at, cls, title}); a `to` of null runs to `now` (or to the last event).
 */
function timelineRows(events, now) {
  const first = events[0];
  const last = events[events.length - 1];
  const endAt = now || (last && last.at) || 0;
  const workflow = { kind: "workflow", label: first ? first.workflow : "?", spans: [], marks: [] };
  const steps = new Map();
  const step = (seq, kind, label, link) => {
    if (!steps.has(seq)) steps.set(seq, { seq, kind, label: `${label} #${seq}`, link, spans: [], marks: [] });
    return steps.get(seq);
  };
  const openSpan = (row) => row.spans.find((s) => s.to === null);
  const close = (row, at, cls, title) => {
    const span = openSpan(row);
    if (span) Object.assign(span, { to: at, cls, title: `${span.title}: ${title}` });
  };
  const signals = { kind: "signal", label: "signals received", spans: [], marks: [] };
  const ends = { WorkflowSucceeded: "ok", WorkflowFailed: "failed", WorkflowTimedOut: "failed", WorkflowCancelled: "ended-other", WorkflowTerminated: "ended-other", WorkflowContinuedAsNew: "ok" };
  for (const e of events) {
    switch (e.type) {
      case "WorkflowStarted":
        workflow.spans.push({ from: e.at, to: null, cls: "", title: "running" });
        break;
      case "TaskScheduled":
        step(e.seq, "task", e.name).spans.push({ from: e.at, to: null, cls: "", title: `attempt 1 from ${time(e.at)}` });
        break;
      case "TaskAttemptFailed": {
        const row = step(e.seq, "task", "task");
        close(row, e.at, "failed", `failed: ${e.error && e.error.message}`);
        row.spans.push({ from: e.at, to: e.retry_at, cls: "backoff", title: `backoff until ${time(e.retry_at)}`, done: true });
        row.spans.push({ from: e.retry_at, to: null, cls: "", title: `attempt ${e.attempt + 1}` });
        break;
      }
      case "TaskSucceeded": close(step(e.seq, "task", "task"), e.at, "ok", `succeeded on attempt ${e.attempt}`); break;
      case "TaskFailed": close(step(e.seq, "task", "task"), e.at, "failed", `failed on attempt ${e.attempt}: ${e.error && e.error.message}`); break;
      case "TimerScheduled":
        step(e.seq, "timer", `timer until ${time(e.until)}`).spans.push({ from: e.at, to: null, cls: "timer", title: "timer", until: e.until });
        break;
      case "TimerFired": close(step(e.seq, "timer", "timer"), e.at, "timer", "fired"); break;
      case "ChildWorkflowScheduled":
        step(e.seq, "child", e.name, e.execution_id).spans.push({ from: e.at, to: null, cls: "child", title: `child ${e.execution_id}` });
        break;
      case "ChildWorkflowSucceeded": close(step(e.seq, "child", "child"), e.at, "ok", "succeeded"); break;
      case "ChildWorkflowFailed": close(step(e.seq, "child", "child"), e.at, "failed", `failed: ${e.error && e.error.message}`); break;
      case "ChildCancelRequested": step(e.seq, "child", "child").marks.push({ at: e.at, cls: "cancel", title: "parent closed: cancel requested" }); break;
      case "EventsEmitted":
        step(e.seq, "emit", (e.events || []).map((x) => x["detail-type"] || x.detail_type || "event").join(", "))
          .marks.push({ at: e.at, cls: "", title: `emitted ${(e.events || []).length} event(s)` });
        break;
      case "SignalReceived": signals.marks.push({ at: e.at, cls: "signal", title: `signal ${e.name} received` }); break;
      case "SignalSent": step(e.seq, "signal", `sent ${e.name} to ${e.execution_id}`, e.execution_id).marks.push({ at: e.at, cls: "signal", title: "signal sent" }); break;
      case "CancelRequested": workflow.marks.push({ at: e.at, cls: "cancel", title: `cancel requested${e.reason ? `: ${e.reason}` : ""}` }); break;
      case "ValueRecorded": step(e.seq, "value", `recorded ${e.source}`).marks.push({ at: e.at, cls: "", title: "value recorded" }); break;
      case "AttributeSet": step(e.seq, "attr", `${e.key} = ${JSON.stringify(e.value)}`).marks.push({ at: e.at, cls: "", title: "attribute set" }); break;
      case "PatchMarked": step(e.seq, "patch", e.patch).marks.push({ at: e.at, cls: "", title: "patch taken" }); break;
      default:
        if (ends[e.type]) close(workflow, e.at, ends[e.type], e.type);
    }
  }
  const rows = [workflow, ...[...steps.values()].sort((a, b) => a.seq - b.seq)];
  if (signals.marks.length) rows.push(signals);
  // Still open: a running step, or one its execution ended while it ran.
  for (const row of rows) {
    for (const span of row.spans) {
      if (span.to === null) Object.assign(span, { to: endAt, cls: `${span.cls} pending`, title: `${span.title} (${now ? "in progress" : "not finished"})` });
    }
  }
  return rows;
}

/** Draws the timeline of `events` as a Gantt chart; `now` extends what still runs. */
function gantt(events, now) {
  if (!events.length) return el("p", { class: "muted" }, "The history is empty.");
  const rows = timelineRows(events, now);
  const times = rows.flatMap((r) => [...r.spans.flatMap((s) => [s.from, s.to]), ...r.marks.map((m) => m.at)]).filter(Number.isFinite);
  const start = Math.min(...times);
  const end = Math.max(start + 1, ...times);
  const x = (at) => `${(((at - start) / (end - start)) * 100).toFixed(3)}%`;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => el("span", { style: { left: `${f * 100}%` } }, `+${formatDuration(f * (end - start))}`));
  const chart = el("div", { class: "gantt" }, el("div", { class: "axis" }, el("span", {}, `from ${time(start)}`), el("div", { class: "ticks" }, ticks)));
  for (const row of rows) {
    const label = el("div", { class: "label", title: row.label }, el("span", { class: "kind" }, row.kind), " ",
      row.link ? executionLink(row.link) : row.label, row.link ? ` (${row.label})` : "");
    const track = el("div", { class: "track" });
    for (const span of row.spans) {
      track.append(el("div", { class: `bar ${span.cls}`, style: { left: x(span.from), width: `calc(${x(span.to)} - ${x(span.from)})` }, title: `${span.title} (${formatDuration(span.to - span.from)})` }));
    }
    for (const mark of row.marks) track.append(el("div", { class: `mark ${mark.cls}`, style: { left: x(mark.at) }, title: `${mark.title} at ${time(mark.at)}` }));
    chart.append(el("div", { class: "timeline-row", "data-kind": row.kind }, label, track));
  }
  const legend = el("div", { class: "legend" }, [["ok", "succeeded"], ["failed", "failed attempt"], ["backoff", "retry backoff"], ["pending", "in progress"], ["timer", "timer"], ["child", "child workflow"]]
    .map(([cls, text]) => el("span", {}, el("i", { class: `bar ${cls}`, style: { position: "static", display: "inline-block" } }), text)),
  el("span", {}, "◆ event emitted / signal / cancel"));
  chart.append(legend);
  return chart;
}

function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3600000) return `${(ms / 60000).toFixed(1)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

// ---- workflows and their diagrams ----

function workflowsPage(view, isCurrent) {
  const list = el("tbody", {});
  view.append(el("h1", {}, "Workflows"), el("table", {}, el("thead", {}, el("tr", {}, ["Workflow", "Tasks", "Signals", "Events emitted"].map((h) => el("th", {}, h)))), list));
  api("GET", "/workflows").then((answer) => {
    if (!isCurrent()) return;
    list.replaceChildren(...answer.workflows.map((w) => el("tr", {}, el("td", {}, workflowLink(w.name)),
      el("td", {}, w.tasks.join(", ")), el("td", {}, w.signals.join(", ")), el("td", {}, w.events.join(", ")))));
  }).catch((error) => isCurrent() && showMessage(explain(error, "Cannot list the workflows")));
}

function workflowPage(view, isCurrent, name) {
  const diagram = el("div", { class: "diagram", id: "diagram" }, el("p", { class: "muted" }, "Loading…"));
  const source = el("pre", { id: "diagram-source" });
  view.append(el("h1", {}, "Workflow ", name),
    el("p", {}, el("a", { href: `#/executions?${new URLSearchParams({ workflow: name })}` }, "Its executions")),
    el("h2", {}, "Diagram"), diagram,
    el("details", {}, el("summary", {}, "Mermaid source (as in target/eventual/<service>/", name, ".mmd)"), source));
  api("GET", `/workflows/${enc(name)}/diagram`).then((answer) => {
    if (!isCurrent()) return;
    source.textContent = answer.source;
    diagram.replaceChildren(window.EventualDiagram.render(answer.source));
  }).catch((error) => {
    if (!isCurrent()) return;
    diagram.replaceChildren(el("p", { class: "muted" }, "No diagram."));
    showMessage(explain(error, error.status === 404 ? `No workflow "${name}"` : "Cannot load the diagram"));
  });
}

// ---- dead letters ----

function dlqPage(view, isCurrent) {
  const body = el("tbody", {});
  const result = el("p", { class: "muted", id: "redrive-result" });
  const redrive = async (path, what) => {
    try {
      const answer = await api("POST", path, {});
      showMessage(`${what}: ${answer.redriven} delivered again.`, "info");
      load();
    } catch (error) { showMessage(explain(error, `Cannot redrive ${what}`)); }
  };
  view.append(el("h1", {}, "Dead letters"),
    el("div", { class: "row-buttons" }, el("button", { class: "primary", id: "redrive-all", onclick: () => redrive("/dlq/redrive", "all dead letters") }, "Redrive all")), result,
    el("table", { id: "dead-letters" }, el("thead", {}, el("tr", {}, ["Id", "Subscription", "Event", "Error", "Attempts", "Failed (UTC)", ""].map((h) => el("th", {}, h)))), body));

  async function load() {
    try {
      const letters = await api("GET", "/dlq");
      if (!isCurrent()) return;
      body.replaceChildren(...letters.map((letter) => el("tr", { class: "dead-letter" },
        el("td", { class: "id" }, letter.id), el("td", {}, letter.subscription),
        el("td", {}, el("details", {}, el("summary", {}, letter.event["detail-type"] || "event"), el("pre", {}, json(letter.event)))),
        el("td", {}, (letter.error && letter.error.message) || json(letter.error)), el("td", {}, letter.attempts),
        el("td", {}, time(letter.failed_at)),
        el("td", {}, el("button", { onclick: () => redrive(`/dlq/${enc(letter.id)}/redrive`, `dead letter ${letter.id}`) }, "Redrive")))));
      if (!letters.length) body.append(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "The dead-letter queue is empty.")));
      result.textContent = `${letters.length} dead letter(s)`;
    } catch (error) {
      if (isCurrent()) showMessage(explain(error, "Cannot list the dead letters"));
    }
  }
  load();
  return load;
}

window.addEventListener("hashchange", route);
route();
