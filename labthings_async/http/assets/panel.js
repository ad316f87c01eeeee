// The control panel: every Thing (or one, on a Thing's own page) with live
// properties and action forms, the live list of invocations, and one opened
// invocation followed as it runs.
//
// Two event streams at most, whatever the number of Things and invocations:
// `events` (every invocation's status and progress, every property change)
// and the opened invocation's own stream (for its log), closed when it ends.
// A browser allows six connections per server, shared by all its tabs.

import { openStream, request, signIn } from "./api.js";
import { FieldSet, buildField, h, problemText } from "./forms.js";
import { cameraElement, cameraLinks, formatInline, formatJSON, outputElement } from "./values.js";

const SHOWN_ROWS = 200; // Rows of the invocation list in the page.
const KEPT_INVOCATIONS = 1000; // Invocations remembered for filtering; the oldest go first.
const RENDER_DELAY_MS = 40; // Bursts of events are drawn together, at most ~25 times a second.
const FINISHED = new Set(["completed", "cancelled", "error"]);
const STATUSES = ["pending", "running", "completed", "cancelled", "error"];
const RANK = { pending: 0, running: 1, completed: 2, cancelled: 2, error: 2 };

const only = document.body.dataset.thing || "";
const things = new Map(); // name -> {td, values: Map(property -> element), unobserved: [names]}
const invocations = new Map(); // id -> summary, as the list and the status events give it
const rows = new Map(); // id -> <tr>
const changed = new Set(); // ids whose row must be redrawn
let orderChanged = true;
let renderTimer = null;
let opened = null; // The one InvocationView followed live.
const filter = { thing: only, action: "", status: "" };

const elements = {
  things: document.getElementById("things"),
  rows: document.getElementById("invocation-rows"),
  listNote: document.getElementById("list-note"),
  openedSlot: document.getElementById("opened-slot"),
  connection: document.getElementById("connection"),
  announcer: document.getElementById("announcer"),
  filterThing: document.getElementById("filter-thing"),
  filterAction: document.getElementById("filter-action"),
  filterStatus: document.getElementById("filter-status"),
};

// -- small helpers ---------------------------------------------------------------

function announce(text) {
  // Screen readers speak a polite live region when its text changes.
  elements.announcer.textContent = "";
  window.setTimeout(() => {
    elements.announcer.textContent = text;
  }, 30);
}

/** "2026-11-21T06:30:51.941504Z" as microseconds, for ordering (Date keeps milliseconds). */
function timeKey(text) {
  if (!text) return 0;
  const fraction = /\.(\d+)/.exec(text);
  const micro = fraction ? Number(`${fraction[1]}000000`.slice(3, 6)) : 0;
  return Date.parse(text) * 1000 + micro;
}

function clockTime(text) {
  return text ? new Date(text).toLocaleTimeString([], { hour12: false }) : "";
}

function duration(start, end) {
  if (!start) return "";
  const seconds = ((end ? Date.parse(end) : Date.now()) - Date.parse(start)) / 1000;
  if (seconds < 0) return "";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function actionName(summary) {
  return summary.action.split("/").pop();
}

function progressText(progress) {
  if (!progress) return "";
  const percent = typeof progress.percent === "number" ? `${Math.round(progress.percent)}%` : "";
  return [percent, progress.message].filter(Boolean).join(" · ");
}

function statusBadge(status) {
  return h("span", { class: `status status-${status}`, text: status });
}

// -- Things ---------------------------------------------------------------------------

function renderThings(descriptions) {
  elements.things.replaceChildren();
  const names = Object.keys(descriptions).filter((name) => !only || name === only);
  if (names.length === 0) {
    elements.things.append(h("p", { class: "note", text: "This server has no Things." }));
  }
  for (const name of names) {
    const td = descriptions[name];
    const entry = { td, values: new Map(), unobserved: [] };
    things.set(name, entry);
    elements.things.append(thingElement(name, td, entry));
  }
  fillFilterChoices();
}

function thingElement(name, td, entry) {
  const titleId = `thing-${name}-title`;
  const links = h(
    "p",
    { class: "thing-links" },
    h("a", { href: `${name}/?format=json`, text: "Thing Description" }),
    only ? null : h("a", { href: `${name}/`, text: "This Thing alone" }),
  );
  const article = h(
    "article",
    { class: "thing", id: `thing-${name}`, "aria-labelledby": titleId },
    h(
      "header",
      { class: "thing-header" },
      h("h2", { id: titleId, text: td.title || name }),
      h("code", { class: "thing-name", text: name }),
      links,
    ),
    td.description ? h("p", { class: "description", text: td.description }) : null,
  );
  const cameras = cameraLinks(td);
  if (cameras.length) {
    article.append(h("div", { class: "cameras" }, ...cameras.map((link) => cameraElement(td, link))));
  }
  const properties = Object.entries(td.properties || {});
  if (properties.length) {
    const list = h("div", { class: "property-list" });
    for (const [property, affordance] of properties) {
      list.append(propertyElement(name, property, affordance, entry));
    }
    article.append(
      h("section", { class: "properties", "aria-label": `Properties of ${td.title || name}` },
        h("h3", { text: "Properties" }), list),
    );
  }
  const actions = Object.entries(td.actions || {});
  if (actions.length) {
    const list = h("div", { class: "action-list" });
    for (const [action, affordance] of actions) list.append(actionElement(name, action, affordance));
    article.append(
      h("section", { class: "actions", "aria-label": `Actions of ${td.title || name}` },
        h("h3", { text: "Actions" }), list),
    );
  }
  return article;
}

function propertyElement(thing, property, affordance, entry) {
  const nameId = `property-${thing}-${property}`;
  const value = h("output", { class: "value", "aria-labelledby": nameId, "aria-live": "off", text: "…" });
  entry.values.set(property, value);
  const container = h(
    "div",
    { class: "property", "data-property": property },
    h(
      "div",
      { class: "property-head" },
      h("span", { class: "property-name", id: nameId, text: affordance.title || property }),
      affordance.description ? h("small", { class: "hint", text: affordance.description }) : null,
    ),
    value,
  );
  if (!affordance.observable) {
    entry.unobserved.push(property);
    const refresh = h("button", {
      type: "button",
      class: "secondary small",
      text: "Read",
      "aria-label": `Read ${property} again`,
      title: "This property's changes are not published: read it again",
    });
    refresh.addEventListener("click", () => readProperty(thing, property));
    container.append(refresh);
  }
  if (!affordance.readOnly) container.append(propertyWriter(thing, property, affordance, value));
  return container;
}

function propertyWriter(thing, property, affordance, value) {
  const fieldSet = new FieldSet();
  const field = buildField(fieldSet, affordance, {
    path: "$",
    label: `New value of ${property}`,
    required: true,
  });
  const formError = h("p", { class: "form-error", role: "alert", tabindex: "-1", hidden: true });
  const status = h("span", { class: "saved", role: "status" });
  const form = h(
    "form",
    { class: "property-write", novalidate: true },
    field.element,
    h("button", { type: "submit", class: "small", text: "Set" }),
    status,
    formError,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fieldSet.clearErrors(formError);
    status.textContent = "";
    let newValue;
    try {
      newValue = field.read();
    } catch (error) {
      fieldSet.showFieldError(error, formError);
      return;
    }
    const reply = await request("PUT", `${thing}/${property}`, newValue === undefined ? null : newValue);
    if (reply.ok) {
      status.textContent = "Set";
      window.setTimeout(() => (status.textContent = ""), 2000);
      if (!affordance.observable) readProperty(thing, property);
    } else {
      fieldSet.showProblem(reply.data, formError);
    }
  });
  // Show the current value in the field once, so it can be edited rather than retyped.
  form.dataset.prefill = "true";
  value.addEventListener("valuechange", () => {
    if (form.dataset.prefill !== "true" || !field.input) return;
    form.dataset.prefill = "false";
    const current = value.dataset.json === undefined ? undefined : JSON.parse(value.dataset.json);
    if (field.input.type === "checkbox") field.input.checked = current === true;
    else if (field.input.tagName === "SELECT") field.input.value = JSON.stringify(current);
    else if (field.input.tagName === "TEXTAREA") field.input.value = JSON.stringify(current);
    else if (current !== undefined && current !== null) field.input.value = String(current);
  });
  return form;
}

function showPropertyValue(thing, property, value) {
  const element = things.get(thing)?.values.get(property);
  if (!element) return;
  element.dataset.json = JSON.stringify(value);
  const text = typeof value === "object" && value !== null ? formatJSON(value) : formatInline(value);
  element.textContent = text;
  element.classList.toggle("structured", typeof value === "object" && value !== null);
  element.classList.remove("problem");
  element.dispatchEvent(new Event("valuechange"));
}

function showPropertyProblem(thing, property, problem) {
  const element = things.get(thing)?.values.get(property);
  if (!element) return;
  element.textContent = problemText(problem);
  element.classList.add("problem");
}

async function readProperty(thing, property) {
  const reply = await request("GET", `${thing}/${property}`);
  if (reply.ok) showPropertyValue(thing, property, reply.data);
  else showPropertyProblem(thing, property, reply.data);
}

async function readAllProperties(thing) {
  const entry = things.get(thing);
  if (!entry || !Object.keys(entry.td.properties || {}).length) return;
  const reply = await request("GET", `${thing}/properties`);
  if (reply.ok) {
    for (const [property, value] of Object.entries(reply.data)) showPropertyValue(thing, property, value);
    return;
  }
  // One failing getter fails the whole read: read them one by one, to show which.
  await Promise.all(Object.keys(entry.td.properties).map((property) => readProperty(thing, property)));
}

// -- actions ------------------------------------------------------------------------

function actionElement(thing, action, affordance) {
  const fieldSet = new FieldSet();
  const titleId = `action-${thing}-${action}`;
  const input = affordance.input;
  const hasInput = input && input.type === "object" && Object.keys(input.properties || {}).length;
  const field = input && (hasInput || input.type !== "object")
    ? buildField(fieldSet, input, { path: "$", label: hasInput ? "" : "Input", required: true })
    : null;
  const formError = h("p", { class: "form-error", role: "alert", tabindex: "-1", hidden: true });
  const button = h("button", { type: "submit", class: "primary", text: "Invoke" });
  const form = h(
    "form",
    { class: "action-form", novalidate: true, "aria-labelledby": titleId },
    field ? field.element : null,
    formError,
    h("div", { class: "form-buttons" }, button),
  );
  const live = h("div", { class: "live-slot" });
  const card = h(
    "div",
    { class: "action", "data-action": action },
    h("h4", { id: titleId, text: affordance.title || action }),
    affordance.description ? h("p", { class: "description", text: affordance.description }) : null,
    form,
    live,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fieldSet.clearErrors(formError);
    let body;
    try {
      body = field ? field.read() : undefined;
    } catch (error) {
      fieldSet.showFieldError(error, formError);
      return;
    }
    button.disabled = true;
    const reply = await request("POST", `${thing}/${action}`, body === undefined ? {} : body);
    button.disabled = false;
    if (!reply.ok) {
      fieldSet.showProblem(reply.data, formError);
      return;
    }
    remember(reply.data);
    openInvocation(reply.data.id, live);
  });
  return card;
}

// -- the invocation list --------------------------------------------------------------

/** Take in a summary or a status change, never moving an invocation back in its life. */
function remember(change) {
  const known = invocations.get(change.id);
  if (known && RANK[change.status] < RANK[known.status]) return;
  const summary = known ? Object.assign(known, change) : { ...change };
  summary.key ??= timeKey(summary.timeRequested);
  if (!known) {
    invocations.set(summary.id, summary);
    orderChanged = true;
  }
  changed.add(summary.id);
  scheduleRender();
}

function onProgress(report) {
  // Progress is never published after an invocation ends, so a report that
  // arrives after its end (the opened invocation's own stream can be ahead of
  // this one) is its last, and is kept.
  const known = invocations.get(report.id);
  if (!known) return;
  known.progress = { percent: report.percent, message: report.message };
  changed.add(known.id);
  scheduleRender();
}

function matches(summary) {
  return (
    (!filter.thing || summary.thing === filter.thing) &&
    (!filter.action || actionName(summary) === filter.action) &&
    (!filter.status || summary.status === filter.status)
  );
}

function scheduleRender() {
  if (renderTimer === null) renderTimer = window.setTimeout(renderList, RENDER_DELAY_MS);
}

let ordered = [];

function renderList() {
  renderTimer = null;
  if (orderChanged) {
    ordered = [...invocations.values()].sort((a, b) => b.key - a.key);
    // Forget the oldest beyond the bound, so memory stays flat however long the page is open.
    for (const stale of ordered.splice(KEPT_INVOCATIONS)) {
      if (opened && opened.id === stale.id) continue;
      invocations.delete(stale.id);
      rows.delete(stale.id);
    }
  }
  const shown = [];
  for (const summary of ordered) {
    if (shown.length >= SHOWN_ROWS) break;
    if (matches(summary)) shown.push(summary);
  }
  const shownRows = shown.map((summary) => {
    let row = rows.get(summary.id);
    if (!row) {
      row = rowElement(summary);
      rows.set(summary.id, row);
    } else if (changed.has(summary.id)) {
      updateRow(row, summary);
    }
    return row;
  });
  changed.clear();
  orderChanged = false;
  const current = elements.rows.children;
  const same = current.length === shownRows.length && shownRows.every((row, index) => current[index] === row);
  if (!same) elements.rows.replaceChildren(...shownRows);
  // Rows not shown are not kept: they are made again if they come back.
  if (rows.size > SHOWN_ROWS * 2) {
    const keep = new Set(shown.map((summary) => summary.id));
    for (const id of rows.keys()) if (!keep.has(id)) rows.delete(id);
  }
  const total = [...invocations.values()].filter(matches).length;
  elements.listNote.textContent = total
    ? total > shown.length
      ? `Showing the newest ${shown.length} of ${total}.`
      : ""
    : "No invocations yet.";
}

function rowElement(summary) {
  const row = h("tr", { "data-id": summary.id });
  row.addEventListener("click", (event) => {
    if (event.target.closest("button")) return;
    openInvocation(summary.id, elements.openedSlot);
  });
  updateRow(row, summary);
  return row;
}

function updateRow(row, summary) {
  const action = actionName(summary);
  const progress = summary.progress;
  const percent = progress && typeof progress.percent === "number" ? progress.percent : null;
  const bar = h("progress", { max: 100, "aria-label": `Progress of ${action}` });
  if (percent !== null) bar.value = percent;
  else if (FINISHED.has(summary.status)) bar.value = summary.status === "completed" ? 100 : 0;
  const open = h("button", {
    type: "button",
    class: "link",
    text: action,
    "aria-label": `Open ${action} of ${summary.thing}, ${summary.id.slice(0, 8)}, ${summary.status}`,
  });
  open.addEventListener("click", () => openInvocation(summary.id, elements.openedSlot));
  row.replaceChildren(
    h("td", { class: "col-action", "data-label": "Action" }, open,
      h("span", { class: "thing-of", text: summary.thing })),
    h("td", { class: "col-status", "data-label": "Status" }, statusBadge(summary.status)),
    h("td", { class: "col-progress", "data-label": "Progress" }, bar,
      h("span", { class: "progress-text", text: progressText(progress) })),
    h("td", { class: "col-time", "data-label": "Requested" },
      h("time", { datetime: summary.timeRequested, text: clockTime(summary.timeRequested) }),
      summary.timeStarted
        ? h("span", { class: "duration", text: ` ${duration(summary.timeStarted, summary.timeCompleted)}` })
        : null),
    h("td", { class: "col-id", "data-label": "ID" }, h("code", { title: summary.id, text: summary.id.slice(0, 8) })),
  );
  row.classList.toggle("opened", opened !== null && opened.id === summary.id);
  if (opened !== null && opened.id === summary.id) row.setAttribute("aria-current", "true");
  else row.removeAttribute("aria-current");
}

async function loadInvocations() {
  const query = new URLSearchParams({ limit: String(SHOWN_ROWS) });
  if (filter.thing) query.set("thing", filter.thing);
  if (filter.action) query.set("action", filter.action);
  if (filter.status) query.set("status", filter.status);
  const reply = await request("GET", `action_invocations/?${query}`);
  if (!reply.ok) {
    elements.listNote.textContent = problemText(reply.data);
    return;
  }
  for (const summary of reply.data) remember(summary);
  renderList();
}

function fillFilterChoices() {
  const thingNames = [...things.keys()];
  elements.filterThing.replaceChildren(h("option", { value: "", text: "All" }),
    ...thingNames.map((name) => h("option", { value: name, text: name })));
  elements.filterThing.value = filter.thing;
  elements.filterThing.disabled = Boolean(only);
  const actions = new Set();
  for (const [name, entry] of things) {
    if (!filter.thing || filter.thing === name) Object.keys(entry.td.actions || {}).forEach((a) => actions.add(a));
  }
  elements.filterAction.replaceChildren(h("option", { value: "", text: "All" }),
    ...[...actions].sort().map((action) => h("option", { value: action, text: action })));
  if (!actions.has(filter.action)) filter.action = "";
  elements.filterAction.value = filter.action;
  elements.filterStatus.replaceChildren(h("option", { value: "", text: "All" }),
    ...STATUSES.map((status) => h("option", { value: status, text: status })));
  elements.filterStatus.value = filter.status;
}

function onFilterChange() {
  filter.thing = only || elements.filterThing.value;
  filter.action = elements.filterAction.value;
  filter.status = elements.filterStatus.value;
  fillFilterChoices();
  orderChanged = true;
  renderList();
  // The server may hold older invocations that match: fetch them.
  loadInvocations();
}

// -- one invocation, followed live ------------------------------------------------------

class InvocationView {
  constructor(id) {
    this.id = id;
    this.stream = null;
    this.lastAnnounced = -1;
    this.titleId = `invocation-${id}`;
    this.status = h("span");
    this.progress = h("progress", { max: 100, "aria-labelledby": this.titleId });
    this.progressText = h("span", { class: "progress-text" });
    this.times = h("p", { class: "times" });
    this.input = h("div", { class: "invocation-input" });
    this.log = h("ol", { class: "log", role: "log", "aria-label": "Log" });
    this.result = h("div", { class: "result" });
    this.cancelButton = h("button", { type: "button", class: "danger", text: "Cancel", disabled: true });
    this.cancelError = h("p", { class: "form-error", role: "alert", hidden: true });
    this.closeButton = h("button", { type: "button", class: "secondary small", text: "Close", "aria-label": "Close this invocation" });
    this.heading = h("h3", { id: this.titleId, tabindex: "-1" }, "Invocation ", h("code", { text: id.slice(0, 8) }));
    this.element = h(
      "section",
      { class: "invocation-view", "aria-labelledby": this.titleId, "data-id": id },
      h("header", {}, this.heading, this.status, this.closeButton),
      h("div", { class: "progress-row" }, this.progress, this.progressText),
      this.times,
      this.input,
      this.log,
      this.result,
      h("div", { class: "form-buttons" }, this.cancelButton),
      this.cancelError,
    );
    this.cancelButton.addEventListener("click", () => this.cancel());
    this.closeButton.addEventListener("click", () => closeInvocation());
    this.summary = { id, status: "pending" };
  }

  async start() {
    const reply = await request("GET", `action_invocations/${this.id}`);
    if (this.closed) return;
    if (!reply.ok) {
      this.result.replaceChildren(h("p", { class: "form-error", text: problemText(reply.data) }));
      return;
    }
    const invocation = reply.data;
    this.showSummary(invocation);
    if (invocation.input && Object.keys(invocation.input).length) {
      this.input.replaceChildren(h("details", {}, h("summary", { text: "Input" }),
        h("pre", { class: "json", text: formatJSON(invocation.input) })));
    }
    this.showProgress(invocation.progress);
    if (FINISHED.has(invocation.status)) {
      // All there is to know is in the reply: no stream needed.
      for (const record of invocation.log || []) this.addLog(record);
      this.showResult(invocation);
      return;
    }
    // The stream replays the whole story (log included), then follows it live.
    this.stream = openStream(`action_invocations/${this.id}/events`);
    this.stream.addEventListener("status", (message) => {
      const change = JSON.parse(message.data);
      this.showSummary(change);
      remember(change);
      if (FINISHED.has(change.status)) {
        this.showResult(change);
        this.stopStream(); // Or the browser would reconnect to an ended stream, again and again.
      }
    });
    this.stream.addEventListener("log", (message) => this.addLog(JSON.parse(message.data)));
    this.stream.addEventListener("progress", (message) => this.showProgress(JSON.parse(message.data)));
  }

  showSummary(summary) {
    // A reply may arrive after a newer event (a cancel's reply after the stream's
    // "cancelled"): an invocation never moves back in its life.
    if (RANK[summary.status] < RANK[this.summary.status]) return;
    Object.assign(this.summary, summary);
    const action = summary.action ? summary.action.split("/").pop() : "";
    if (action) {
      this.heading.replaceChildren(`${summary.thing} / ${action} `, h("code", { title: this.id, text: this.id.slice(0, 8) }));
    }
    this.status.replaceWith((this.status = statusBadge(this.summary.status)));
    this.cancelButton.disabled = FINISHED.has(this.summary.status);
    const parts = [];
    if (this.summary.timeRequested) parts.push(`requested ${clockTime(this.summary.timeRequested)}`);
    if (this.summary.timeStarted) parts.push(`started ${clockTime(this.summary.timeStarted)}`);
    if (this.summary.timeCompleted) {
      parts.push(`finished ${clockTime(this.summary.timeCompleted)} (${duration(this.summary.timeStarted || this.summary.timeRequested, this.summary.timeCompleted)})`);
    }
    this.times.textContent = parts.join(" · ");
    if (this.announcedStatus !== this.summary.status) {
      this.announcedStatus = this.summary.status;
      announce(`${action || "Invocation"} ${this.summary.status}`);
    }
  }

  showProgress(progress) {
    if (!progress) {
      if (!FINISHED.has(this.summary.status)) this.progress.removeAttribute("value");
      return;
    }
    const text = progressText(progress);
    if (typeof progress.percent === "number") this.progress.value = progress.percent;
    this.progress.setAttribute("aria-valuetext", text || "in progress");
    this.progressText.textContent = text;
    // Announced in quarters, so a screen reader is told how it goes without a flood.
    const quarter = typeof progress.percent === "number" ? Math.floor(progress.percent / 25) : -1;
    if (quarter > this.lastAnnounced) {
      this.lastAnnounced = quarter;
      announce(`Progress ${text}`);
    }
  }

  addLog(record) {
    const level = (record.levelname || "INFO").toLowerCase();
    this.log.append(
      h("li", { class: `log-${level}` },
        h("time", { datetime: record.created, text: clockTime(record.created) }),
        h("span", { class: "level", text: record.levelname }),
        h("span", { class: "message", text: record.message })),
    );
    this.log.scrollTop = this.log.scrollHeight;
  }

  showResult(invocation) {
    if (!this.progress.hasAttribute("value")) {
      // Never reported progress: a finished bar, not a "working" one.
      this.progress.value = invocation.status === "completed" ? 100 : 0;
    }
    if (invocation.status === "completed") {
      this.result.replaceChildren(h("h4", { text: "Output" }), outputElement(invocation.output));
    } else if (invocation.error) {
      this.result.replaceChildren(h("p", { class: "invocation-error", text: problemText(invocation.error) }));
    }
  }

  async cancel() {
    this.cancelError.hidden = true;
    this.cancelButton.disabled = true;
    const reply = await request("DELETE", `action_invocations/${this.id}`);
    if (reply.ok) {
      this.showSummary(reply.data);
      remember(reply.data);
      return;
    }
    this.cancelError.textContent = problemText(reply.data);
    this.cancelError.hidden = false;
    this.cancelButton.disabled = FINISHED.has(this.summary.status);
  }

  stopStream() {
    if (this.stream) this.stream.close();
    this.stream = null;
  }

  close() {
    this.closed = true;
    this.stopStream();
    this.element.remove();
  }
}

function openInvocation(id, slot) {
  closeInvocation();
  opened = new InvocationView(id);
  slot.replaceChildren(opened.element);
  if (slot === elements.openedSlot) opened.heading.focus({ preventScroll: false });
  for (const [rowId, row] of rows) {
    row.classList.toggle("opened", rowId === id);
    if (rowId === id) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  }
  opened.start();
}

function closeInvocation() {
  if (opened === null) return;
  const row = rows.get(opened.id);
  opened.close();
  opened = null;
  if (row) {
    row.classList.remove("opened");
    row.removeAttribute("aria-current");
  }
}

// -- the server's event stream ---------------------------------------------------------

let refreshTimer = null;

/** Read every snapshot again (after a reconnection, or when events were lost). */
function refreshAll() {
  window.clearTimeout(refreshTimer);
  refreshTimer = window.setTimeout(() => {
    for (const thing of things.keys()) readAllProperties(thing);
    loadInvocations();
  }, 100);
}

function connect(reconnected = false) {
  const stream = openStream(only ? `events?thing=${encodeURIComponent(only)}` : "events");
  let everOpened = reconnected;
  const firstOpen = new Promise((resolve) => {
    stream.addEventListener("open", () => {
      elements.connection.textContent = "Live";
      elements.connection.className = "connection live";
      if (everOpened) refreshAll(); // Reconnected: what happened meanwhile may be gone.
      everOpened = true;
      resolve();
    });
  });
  stream.addEventListener("error", () => {
    elements.connection.textContent = stream.readyState === EventSource.CLOSED ? "Disconnected" : "Reconnecting…";
    elements.connection.className = "connection down";
    if (stream.readyState === EventSource.CLOSED) {
      // The browser gives up on a refusal (an expired stream token, say):
      // sign in again, then open a new stream, which resumes by refreshing.
      window.setTimeout(async () => {
        if (await signIn()) connect(true);
      }, 2000);
    }
  });
  stream.addEventListener("status", (message) => {
    const change = JSON.parse(message.data);
    remember(change);
    // A finished action may have changed what no event announces: read those again.
    const entry = FINISHED.has(change.status) ? things.get(change.thing) : null;
    if (entry) for (const property of entry.unobserved) readProperty(change.thing, property);
  });
  stream.addEventListener("progress", (message) => onProgress(JSON.parse(message.data)));
  stream.addEventListener("property", (message) => {
    const change = JSON.parse(message.data);
    showPropertyValue(change.thing, change.name, change.value);
  });
  stream.addEventListener("lost", refreshAll);
  return firstOpen;
}

async function boot() {
  for (const select of [elements.filterThing, elements.filterAction, elements.filterStatus]) {
    select.addEventListener("change", onFilterChange);
  }
  // On a server with tokens, the person signs in before anything is read.
  if (!(await signIn())) {
    elements.things.replaceChildren(
      h("p", { class: "form-error", text: "This server needs a token. Reload the page to enter one." }),
    );
    return;
  }
  // The stream opens first: whatever the snapshots below miss, it carries.
  const streamOpen = connect();
  const reply = await request("GET", "thing_descriptions/");
  if (!reply.ok) {
    elements.things.replaceChildren(h("p", { class: "form-error", text: problemText(reply.data) }));
    return;
  }
  renderThings(reply.data);
  await Promise.race([streamOpen, new Promise((resolve) => window.setTimeout(resolve, 5000))]);
  await Promise.all([...[...things.keys()].map(readAllProperties), loadInvocations()]);
  document.body.dataset.state = "ready";
  performance.mark("panel-ready");
}

boot();
