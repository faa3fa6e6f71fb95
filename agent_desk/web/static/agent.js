/* 坐席工作台: the screen pop over the WebSocket (and /api/v1/calls/current after a reload), the call's live
   transcript (speaker turns), the prefill's suggestions with one-click 采用, the caller's previous tickets, the
   ticket form prefilled from the pop, and the new ticket's actions.

   The form remembers what the agent did: a field the agent typed into, chose, or adopted a suggestion into is
   never changed by a later prefill update (only by the agent, e.g. another 采用). */

import { api, qs } from "./api.js";
import { callbacksPanel } from "./callbacks.js";
import { $, clear, dash, el, message, show } from "./dom.js";
import { watchDuplicates } from "./duplicates.js";
import { start } from "./header.js";
import * as Softphone from "./softphone.js";
import { reconnecting } from "./socket.js";
import { renderTicket } from "./ticket.js";
import { overdueBadge, stateBadge } from "./ticket-view.js";
import { applyLimits, checkForm, clearProblems, loadLimits, MESSAGES, recount } from "./forms.js";
import { placePickers } from "./places.js";
import { answersPanel } from "./knowledge.js";
import { fmtTime } from "./time.js";
import { suggestionsPanel } from "./suggestions.js";
import { transcriptPanel } from "./transcript.js";
import { known, label, labels } from "./vocab.js";

const form = $("#ticket-form");
const formMsg = $("#form-msg");
const duplicates = watchDuplicates(form, $("#duplicates"));   // 并单: 可能重复的诉求 (duplicates.js)
const PHONE_CHARS = "联系电话只能包含数字、+ 和 -";
const EMERGENCY = { 110: "110（公安）", 119: "119（消防）", 120: "120（急救）", 122: "122（交通事故）" };

let call = null;          // the current pop's call
let popsPushed = 0;       // pops pushed so far: a GET /calls/current answer overtaken by one is dropped (loadCurrent)
let suggestedUnit = "";
let auto = {};            // field → the value the prefill last suggested for it
let typed = new Set();    // fields the agent filled itself: prefill updates leave them alone
const APPENDED = new Set(["location", "occurred"]);   // 采用 adds to what the agent wrote there
const live = transcriptPanel($("#turns"), { empty: $("#turns-empty"), busy: $("#transcript-busy") });
// 可直接答复: what the caller said (the transcript's citizen turns) and what the form says
answersPanel($("#answers"), $("#answers-note"), () => [form.elements.title.value, form.elements.content.value,
  ...Array.from(document.querySelectorAll("#turns .turn.citizen .said"), (n) => n.textContent)].join("\n"));
let savedNumber = null;
const hints = suggestionsPanel(form, $("#smart-card"), { onAnswer: preselectTopic });
// 市县 → 区 → 镇 (places.js): the ticket's sub-platform and place; the panels are told when they change
// (an empty form is not asked about: each question is audited)
const places = placePickers(form, $("#place-pickers"), () => {
  if (form.elements.title.value.trim() || form.elements.content.value.trim()) hints.refresh();
});

// ── the pop ─────────────────────────────────────────────────────────────
function onPop(pop) {
  if (!pop || pop.type !== "pop" || !pop.call) return;
  const isNew = !call || call.call_id !== pop.call.call_id;
  call = pop.call;
  outbound = null;
  if (isNew) resetForm();
  show($("#no-call"), false);
  show($("#call-info"), true);
  $("#call-caller").textContent = dash(call.caller);
  $("#call-line").textContent = call.line_name ? `${call.line_name}（${call.line}）` : dash(call.line);
  $("#call-city").textContent = dash(call.city || call.subplatform);
  $("#call-answered").textContent = fmtTime(call.answered_at);
  $("#call-id").textContent = dash(call.call_id);
  form.elements.call_id.value = call.call_id;
  form.elements.source_line.value = /^\d{3,8}$/.test(call.line || "") ? call.line : "";
  form.elements.subplatform.value = call.subplatform || "";
  if (/^[0-9+\-]+$/.test(call.caller || "")) setAuto("citizen_phone", call.caller);
  renderPrefill(pop.prefill);
  places.prefill({ subplatform: call.subplatform, places: (pop.prefill || {}).places });
  hints.refresh();
  openTranscript(call.call_id);
  renderCallerTickets(pop.tickets || []);
  showPhone();
  if (isNew) message($("#page-msg"), `新来电：${dash(call.caller)}（${call.line_name || call.line || "未知热线"}）`, "info");
  // Warnings already known for the call (its recording failed or was interrupted): shown again after a reload.
  for (const warning of pop.warnings || []) onWarning(warning);
}

/** About the call on the line (its recording cannot be written, or stopped): the message comes from the desk
    (pop.WARNINGS). */
function onWarning(data) {
  if (!call || call.call_id === data.call_id) message($("#page-msg"), data.message, "error");
}

/** What was said so far (the queue's description included), then each turn as the desk pushes it. */
async function openTranscript(callId) {
  show($("#live-card"), true);
  try {
    await live.open(callId);
  } catch (err) {
    message($("#page-msg"), err.message, "error");
  }
}

// 回拨: the agent's own call out, transcribed under its out_id ("cb-…"). The desk sends a page only the turns of
// its agent's own calls, so a turn of a "cb-" call while no inbound call is on the page is this agent's 回拨:
// its live transcript and suggestions show as an inbound call's.
// After a reload mid-回拨, GET /calls/current answers {type: "callback"} with the turns so far: shown at once.
const OUTBOUND_PREFIX = "cb-";
const OUTBOUND_TEXT = "回拨通话已接通：下方为实时转写和智能建议";
const OUTBOUND_RESTORED = (cb) => {
  const about = [cb.number, cb.ticket ? `工单 ${cb.ticket}` : "", cb.task_id ? `回拨任务 #${cb.task_id}` : ""]
    .filter(Boolean).join("，");
  return `回拨进行中${about ? `（${about}）` : ""}：下方为实时转写和智能建议`;
};
let outbound = null;   // the out_id of the 回拨 whose transcript is on the page

function openOutbound(outId) {
  outbound = outId;
  hints.reset();
  openTranscript(outbound);   // empties the panel at once (synchronously), then reads back what it lacks
}

function onTurn(data) {
  if (call && data.call_id === call.call_id) { live.add(data.turn); hints.turn(data.turn); return; }
  if (call || !String(data.call_id || "").startsWith(OUTBOUND_PREFIX)) return;
  if (outbound !== data.call_id) {
    openOutbound(data.call_id);
    message($("#page-msg"), OUTBOUND_TEXT, "info");
  }
  live.add(data.turn);
  hints.turn(data.turn);
}

/** The agent's 回拨 in progress, from GET /calls/current after a reload: its turns so far and suggestions. */
function onCallback(current) {
  if (call || !current.out_id) return;
  if (outbound !== current.out_id) openOutbound(current.out_id);
  for (const turn of current.turns || []) {
    live.add(turn);
    hints.turn(turn);
  }
  message($("#page-msg"), OUTBOUND_RESTORED(current), "info");
}

function onPrefill(update) {
  if (!call || !update || update.call_id !== call.call_id) return;
  renderPrefill(update.prefill);
  if (!saved) places.prefill({ subplatform: call.subplatform, places: (update.prefill || {}).places });
  hints.refresh();
}

function renderPrefill(prefill) {
  const card = $("#prefill-card");
  show(card, true);
  prefill = prefill || {};
  const status = $("#prefill-status");
  status.textContent = prefill.status ? label("prefill_statuses", prefill.status) : "无语音预填";
  $("#transcript").textContent = prefill.transcript || "（无转写内容）";
  $("#pf-appeal").textContent = dash(label("appeal_types", prefill.appeal_type));
  const places = (prefill.places || []).map((p) => (p.city && p.city !== p.name ? `${p.name}（${p.city}）` : p.name));
  $("#pf-places").textContent = dash(places.join("、"));
  $("#pf-phones").textContent = dash((prefill.phones || []).join("、"));
  $("#pf-dates").textContent = dash((prefill.dates || []).join("、"));
  $("#pf-topic").textContent = prefill.topic ? prefill.topic.name || label("topics", prefill.topic.code) : "—";
  suggestedUnit = prefill.suggested_unit || "";
  $("#pf-unit").textContent = dash(suggestedUnit);
  renderSuggestions(prefill);
  const emergency = $("#emergency");
  emergency.textContent = prefill.emergency ? `紧急情况：请立即转接 ${EMERGENCY[prefill.emergency] || prefill.emergency}` : "";
  show(emergency, Boolean(prefill.emergency));

  // The form follows the prefill until the agent edits a field.
  const transcript = (prefill.transcript || "").trim();
  if (transcript) {
    setAuto("content", transcript);
    setAuto("title", titleOf(transcript, prefill.topic));
  }
  if (known("appeal_types", prefill.appeal_type)) setAuto("appeal_type", prefill.appeal_type);
  if (prefill.topic && prefill.topic.code) {
    setAuto("topic", prefill.topic.code);
    $("#topic-hint").textContent = `建议：${prefill.topic.name}`;
  }
  setAuto("location", Array.from(new Set((prefill.places || []).map((p) => p.name))).join("、"));
  setAuto("occurred", (prefill.dates || []).join("、"));
  setAuto("suggested_unit", suggestedUnit);
}

/** Each suggestion of the prefill, per form field: [{ value, text }]. */
function suggestionsOf(prefill) {
  const one = (value, text) => (value ? [{ value, text: text || value }] : []);
  const topic = prefill.topic && known("topics", prefill.topic.code) ? prefill.topic : null;
  return {
    appeal_type: known("appeal_types", prefill.appeal_type) ? one(prefill.appeal_type, label("appeal_types", prefill.appeal_type)) : [],
    location: Array.from(new Set((prefill.places || []).map((p) => p.name))).map((name) => ({ value: name, text: name })),
    citizen_phone: (prefill.phones || []).filter((p) => /^[0-9+\-]+$/.test(p)).map((p) => ({ value: p, text: p })),
    occurred: (prefill.dates || []).map((d) => ({ value: d, text: d })),
    topic: topic ? one(topic.code, topic.name) : [],
    suggested_unit: one(prefill.suggested_unit || ""),
  };
}

function renderSuggestions(prefill) {
  const all = suggestionsOf(prefill);
  for (const holder of document.querySelectorAll("#suggestions [data-suggest]")) {
    const name = holder.dataset.suggest;
    const what = holder.closest("dd").previousElementSibling.textContent;
    clear(holder);
    const items = all[name] || [];
    for (const s of items) {
      holder.append(el("button", { type: "button", class: "secondary adopt-one", "data-field": name, "data-value": s.value,
        "aria-label": `采用${what}：${s.text}`, onclick: () => adopt(name, s.value, `${what}“${s.text}”`) },
      items.length > 1 ? `采用“${s.text}”` : "采用"));
    }
  }
}

/** 采用: the suggestion goes into its form field, which is the agent's from then on. */
function adopt(name, value, what) {
  const control = form.elements.namedItem(name);
  if (!control) return;
  const current = control.value.trim();
  if (APPENDED.has(name) && typed.has(name) && current) {
    const parts = current.split("、").map((p) => p.trim());
    if (!parts.includes(value)) control.value = `${current}、${value}`;
  } else {
    control.value = value;
  }
  typed.add(name);
  recount(form);
  if (name === "topic") $("#topic-hint").textContent = "";
  message($("#adopt-msg"), `已采用${what}`, "ok");
}

// The agent's own input: typing, choosing, ticking.
for (const kind of ["input", "change"]) {
  form.addEventListener(kind, (ev) => { if (ev.target && ev.target.name) typed.add(ev.target.name); });
}

function titleOf(transcript, topic) {
  const first = transcript.split(/[。！？!?\n]/)[0].trim() || transcript;
  const short = first.length > 30 ? first.slice(0, 30) + "…" : first;
  return topic && topic.name ? `【${topic.name}】${short}` : short;
}

/** The prefill's value for a field: shown there unless the agent has filled that field itself. */
function setAuto(name, value) {
  const control = form.elements.namedItem(name);
  if (!control || value === undefined || value === null || saved) return;   // saved: the form is the ticket now
  auto[name] = value;
  if (!typed.has(name)) control.value = value;
  recount(form);
}

function renderCallerTickets(tickets) {
  const list = clear($("#caller-tickets"));
  show($("#history-card"), true);
  if (!tickets.length) {
    list.append(el("li", { class: "empty" }, "该来电号码暂无历史工单"));
    return;
  }
  for (const t of tickets) {
    list.append(el("li", { "data-number": t.number, "data-open": t.open ? "1" : "0" },
      el("span", { class: "number" }, t.number),
      stateBadge(t),
      t.open ? el("span", { class: "badge open" }, "未办结") : null,
      overdueBadge(t),
      el("span", { class: "title" }, `${t.title}（${t.appeal_label}）`),
      el("span", { class: "hint" }, fmtTime(t.created_at)),
      el("button", { type: "button", class: "secondary", onclick: () => openTicket(t.number) }, "查看"),
      t.open ? el("button", { type: "button", onclick: () => linkTo(t) , "aria-label": `关联此工单 ${t.number}` }, "关联此工单") : null));
  }
}

function linkTo(ticket) {
  form.elements.repeat_of.value = ticket.number;
  const banner = clear($("#repeat-banner"));
  banner.append(`本次来电将作为重复诉求关联工单 ${ticket.number}（${ticket.state_label}）。`,
    el("button", { type: "button", class: "secondary", onclick: unlink }, "取消关联"));
  show(banner, true);
  setAuto("title", ticket.title);
  if (known("appeal_types", ticket.appeal_type)) setAuto("appeal_type", ticket.appeal_type);
  if (ticket.topic) setAuto("topic", ticket.topic);
  form.elements.title.focus();
}

function unlink() {
  form.elements.repeat_of.value = "";
  show($("#repeat-banner"), false);
}

function resetForm() {
  form.reset();
  duplicates.reset();
  auto = {};
  typed = new Set();
  message($("#adopt-msg"), "", "info");
  savedNumber = null;
  editing(false, null);
  clearProblems(form);
  hints.reset();
  unlink();
  $("#topic-hint").textContent = "";
  $("#save-ticket").disabled = false;
  message(formMsg, "", "info");
  clear($("#ticket-detail"));
  show($("#ticket-card"), false);
  if (call) {
    form.elements.call_id.value = call.call_id;
    form.elements.source_line.value = /^\d{3,8}$/.test(call.line || "") ? call.line : "";
    form.elements.subplatform.value = call.subplatform || "";
  }
  places.reset(call ? call.subplatform : "");
  filterTopics("");
  recount(form);
}

// ── saving the ticket ───────────────────────────────────────────────────
function draftOf() {
  const f = form.elements;
  const optional = (value) => (value && value.trim() ? value.trim() : null);
  return {
    channel: "phone", call_id: optional(f.call_id.value), source_line: optional(f.source_line.value),
    subplatform: optional(f.subplatform.value), location_unit: optional(f.location_unit.value),
    repeat_of: optional(f.repeat_of.value),
    citizen_name: f.citizen_name.value.trim(), citizen_phone: f.citizen_phone.value.trim(),
    confidential: f.confidential.checked, occurred: f.occurred.value.trim(), location: f.location.value.trim(),
    title: f.title.value.trim(), content: f.content.value.trim(), demand: f.demand.value.trim(),
    appeal_type: f.appeal_type.value, topic: f.topic.value, urgency: f.urgency.value,
    merge_into: duplicates.chosen(),
  };
}

// Length limits: the server's own (GET /limits, one definition), shown as the agent types; longer text is kept and
// refused with a message on 保存 (forms.js), never cut. Without the limits the server still refuses, in Chinese.
loadLimits().then((limits) => applyLimits(form, limits.ticket)).catch(() => {});

// Only the 保存工单 button saves: Enter in a one-line field (a browser's implicit submission) does nothing.
form.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && ev.target instanceof HTMLInputElement) ev.preventDefault();
});

/** The desk's checks (required, length, phone) in Chinese under each field; true: the form may be sent. */
function checkTicketForm() {
  const problems = checkForm(form);
  const phone = form.elements.citizen_phone;
  if (phone.value.trim() && !/^[0-9+\-]*$/.test(phone.value.trim()) && !phone.hasAttribute("aria-invalid")) {
    const note = el("span", { class: "field-error", id: `${phone.id}-error`, role: "alert" }, PHONE_CHARS);
    phone.setAttribute("aria-invalid", "true");
    phone.setAttribute("aria-describedby", [phone.getAttribute("aria-describedby"), note.id].filter(Boolean).join(" "));
    phone.closest(".field").append(note);
    problems.push(PHONE_CHARS);
  }
  const first = form.querySelector("[aria-invalid=true]");   // the first in the form's order, phone included
  if (first) first.focus();
  if (problems.length) message(formMsg, MESSAGES.summary(problems.length), "error");
  else message(formMsg, "", "");
  return !problems.length;
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (ev.submitter !== $("#save-ticket")) return;
  if (saved) {
    await saveEdit();
    return;
  }
  if (!checkTicketForm()) return;
  const draft = draftOf();
  const button = $("#save-ticket");
  button.disabled = true;
  try {
    const result = await api("POST", "/tickets", draft);
    if (result.created) {
      savedNumber = result.number;
      editing(false, result.state === "accepted" ? { number: result.number, values: editable() } : null);
      hints.saved(result.number);
      message(formMsg, duplicates.savedText(result) || `工单已保存，编号 ${result.number}（${label("ticket_states", result.state)}）`,
        result.merge_error ? "error" : "ok");
    } else {
      savedNumber = result.linked_to;
      message(formMsg, result.message || `已关联至工单 ${result.linked_to}`, "ok");
    }
    await openTicket(savedNumber);
  } catch (err) {
    message(formMsg, err.message, "error");
    button.disabled = false;
  }
});

// ── 修改工单: the saved ticket edited from this form until 派单 (PATCH /tickets/{number}) ──────────
// The fields an edit may change (the API's TicketEdit); the others are locked while editing.
const EDITABLE = ["title", "content", "demand", "occurred", "location", "subplatform", "location_unit", "topic",
  "citizen_name", "citizen_phone"];
const LOCKED = ["appeal_type", "urgency", "confidential"];
let saved = null;   // { number, values }: the ticket this form saved, as saved, while it may be edited

function editable() {
  return Object.fromEntries(EDITABLE.map((name) => [name, form.elements[name].value.trim()]));
}

/** ``on``: the form edits the saved ticket; ``ticket``: the ticket that may be edited (null: none). */
function editing(on, ticket) {
  if (ticket !== undefined) saved = ticket;
  show($("#edit-ticket"), Boolean(saved) && !on);
  const button = $("#save-ticket");
  button.textContent = on ? "保存修改" : "保存工单";
  button.disabled = Boolean(saved) && !on;
  form.dataset.editing = on ? "1" : "";
  for (const name of LOCKED) form.elements[name].disabled = on;
}

$("#edit-ticket").addEventListener("click", () => {
  editing(true);
  message(formMsg, `正在修改工单 ${saved.number}：改好后点“保存修改”`, "info");
  form.elements.title.focus();
});

async function saveEdit() {
  const now = editable();
  const change = Object.fromEntries(EDITABLE.filter((name) => now[name] !== saved.values[name]).map((name) => [name, now[name]]));
  if (!Object.keys(change).length) {
    message(formMsg, "没有修改任何内容", "error");
    return;
  }
  if (!checkTicketForm()) return;
  const button = $("#save-ticket");
  button.disabled = true;
  try {
    const result = await api("PATCH", `/tickets/${encodeURIComponent(saved.number)}`, change);
    saved = { number: saved.number, values: now };
    editing(false);
    message(formMsg, `工单 ${result.number} 已修改`, "ok");
    await openTicket(result.number);
  } catch (err) {
    button.disabled = false;
    message(formMsg, err.message, "error");
  }
}

$("#reset-form").addEventListener("click", () => {
  resetForm();
  message(formMsg, "已清空表单，可登记新工单", "info");
});

async function openTicket(number) {
  const card = $("#ticket-card");
  show(card, true);
  try {
    await renderTicket($("#ticket-detail"), number, { suggestedUnit: form.elements.suggested_unit.value.trim() || suggestedUnit,
      // once dispatched (or otherwise moved on) the ticket is no longer edited from here
      onChanged: (detail) => { if (saved && detail.number === saved.number && detail.state !== "accepted") editing(false, null); } });
    card.scrollIntoView({ block: "nearest" });
  } catch (err) {
    message($("#page-msg"), err.message, "error");
  }
}

// ── call controls: transfers, emergency linkage, ending the call ─────────
const phoneMsg = $("#phone-msg");
const xfer = $("#transfer-form");
let targets = null;

let telephony = false;   // from /api/v1/me: is the desk connected to the phone system?
const OFFLINE = "电话系统暂时无法连接，请使用软电话操作";

async function showPhone() {
  show($("#phone-card"), true);
  if (!telephony) {
    message(phoneMsg, OFFLINE, "error");
    return;
  }
  if (targets) return;
  try {
    targets = await api("GET", "/calls/transfer-targets");
  } catch (err) {
    message(phoneMsg, err.message, "error");
    return;
  }
  const buttons = clear($("#emergency-buttons"));
  for (const line of targets.emergency) {
    buttons.append(el("button", { type: "button", class: "danger", "data-number": line.number,
      onclick: () => transfer({ kind: "emergency", target: line.number, agent_stays: true }) },
      `紧急联动 ${EMERGENCY[line.number] || line.number}`));
  }
  fillTargets();
}

function fillTargets() {
  const kind = xfer.elements.kind.value;
  const select = clear($("#xfer-target"));
  const lists = { three_way: targets && targets.sub_centers, retained_seat: targets && targets.retained_seats,
    one_key: targets && targets.one_key };
  if (lists[kind]) {
    for (const line of lists[kind]) select.append(el("option", { value: line.number }, `${line.number} ${line.name}`));
  } else if (kind === "queue" && targets) {
    for (const q of targets.queues) select.append(el("option", { value: q.name }, q.label));
  }
  const byExtension = kind === "blind" || kind === "attended";
  show(select.closest(".field"), !byExtension);
  show($("#xfer-ext-field"), byExtension);
  show($("#xfer-stay-field"), kind === "three_way");
}
xfer.elements.kind.addEventListener("change", fillTargets);

xfer.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = xfer.elements;
  const kind = f.kind.value;
  const target = kind === "blind" || kind === "attended" ? f.extension.value.trim() : f.target.value;
  const byExtension = kind === "blind" || kind === "attended";
  if (byExtension ? !/^[0-9]{1,8}$/.test(target) : !/^[0-9A-Za-z_-]+$/.test(target || "")) {
    message(phoneMsg, byExtension ? "请输入坐席分机号（1–8 位数字）" : "请选择转接目标", "error");
    return;
  }
  transfer({ kind, target, agent_stays: f.agent_stays.checked });
});

async function transfer(request) {
  // If the far end cannot take it, a sub-center gets the ticket: the saved one, or this form as it stands.
  const draft = draftOf();
  if (savedNumber) request.ticket = savedNumber;
  else if (draft.title && draft.content && draft.appeal_type) request.draft = draft;
  message(phoneMsg, "正在转接，请稍候…", "info");
  setBusy(true);
  try {
    const reply = await api("POST", "/calls/current/transfer", request);
    const ok = reply.result && reply.result.connected;
    message(phoneMsg, reply.message, ok ? "ok" : "error");
    pending(reply.pending);
    if (reply.ticket) {
      savedNumber = reply.ticket;
      $("#save-ticket").disabled = true;
      await openTicket(reply.ticket);
    }
  } catch (err) {
    message(phoneMsg, err.message, "error");
  } finally {
    setBusy(false);
  }
}

function pending(step) {
  show($("#xfer-leave"), step === "leave");
  show($("#xfer-complete"), step === "complete_or_cancel");
  show($("#xfer-cancel"), step === "complete_or_cancel");
}

function setBusy(busy) {
  for (const b of document.querySelectorAll("#phone-card button")) b.disabled = busy;
}

async function step(url, after) {
  setBusy(true);
  try {
    const reply = await api("POST", url);
    message(phoneMsg, reply.message, "ok");
    pending(after);
  } catch (err) {
    message(phoneMsg, err.message, "error");
  } finally {
    setBusy(false);
  }
}
$("#xfer-leave").addEventListener("click", () => step("/calls/current/transfer/leave", null));
$("#xfer-complete").addEventListener("click", () => step("/calls/current/transfer/complete", null));
$("#xfer-cancel").addEventListener("click", () => step("/calls/current/transfer/cancel", null));
$("#hangup").addEventListener("click", () => step("/calls/current/hangup", null));

// ── the agent's own state: 签入 / 签出 / 置忙 / 置闲 ─────────────────────────
const statusMsg = $("#status-msg");

function renderState(state) {
  const queues = state.queues || [];
  const paused = queues.find((q) => q.paused);
  const badge = $("#agent-state");
  badge.textContent = !queues.length ? "未签入" : paused ? `置忙：${paused.reason_label || paused.reason || "—"}`
    : queues.some((q) => q.in_call) ? "通话中" : "空闲";
  badge.className = "badge " + (!queues.length ? "down" : paused ? "open" : "live");
  // 签入 needs a registered phone (the desk refuses it too, as 坐席管理 does): the button says so and stays off.
  const login = $("#agent-login");
  login.disabled = state.registered === false;
  login.title = state.registered === false ? NOT_REGISTERED : "";
  if (state.registered === false) message(statusMsg, NOT_REGISTERED, "error");
  watchRegistration(state);
  // A cluster's proxy that did not answer the desk: 签入 went through (the agent stays signed in) without knowing
  // whether the phone is registered. The desk's sentence says so and what to check; it goes once a reply lacks it.
  if (state.registration_unconfirmed) {
    message(statusMsg, state.registration_unconfirmed, "error");
  } else if (unconfirmedShown) {
    message(statusMsg, "", "info");
  }
  unconfirmedShown = Boolean(state.registration_unconfirmed);
}
let unconfirmedShown = false;
const NOT_REGISTERED = "话机未注册，不能签入：请先打开网页电话或检查话机";
// The phone registers after the page loaded (the browser phone within seconds, a desk phone whenever it is plugged
// in): the state is read again when the browser phone says it registered, and every 10 s while it is not.
let unregisteredPoll = null;
window.addEventListener("softphone-registration", () => { if (telephony) agentAction(); });
function watchRegistration(state) {
  if (state.registered === false && !unregisteredPoll) {
    unregisteredPoll = setInterval(() => agentAction(), 10000);
  } else if (state.registered !== false && unregisteredPoll) {
    clearInterval(unregisteredPoll);
    unregisteredPoll = null;
    message(statusMsg, "", "info");
  }
}

async function agentAction(url, body) {
  try {
    const state = await api(url ? "POST" : "GET", url || "/agents/me", body);
    if (url) message(statusMsg, "", "info");
    renderState(state);   // after clearing: a phone that is not registered keeps its warning
  } catch (err) {
    message(statusMsg, err.message, "error");
  }
}

async function loadPauseReasons() {
  try {
    const reasons = await api("GET", "/pause-reasons");
    const select = clear($("#pause-reason"));
    for (const r of reasons) select.append(el("option", { value: r.code, selected: r.default }, r.label));
  } catch (err) {
    message(statusMsg, err.message, "error");
  }
}
// 签入 asks first (it starts calls coming in).
$("#agent-login").addEventListener("click", () => { show($("#login-confirm"), true); $("#login-yes").focus(); });
$("#login-no").addEventListener("click", () => { show($("#login-confirm"), false); $("#agent-login").focus(); });
$("#login-yes").addEventListener("click", () => { show($("#login-confirm"), false); agentAction("/agents/me/login"); });
$("#agent-logout").addEventListener("click", () => agentAction("/agents/me/logout"));
$("#agent-pause").addEventListener("click", () => agentAction("/agents/me/pause", { reason: $("#pause-reason").value }));
$("#agent-unpause").addEventListener("click", () => agentAction("/agents/me/unpause"));

// ── the WebSocket ───────────────────────────────────────────────────────
const wsState = $("#ws-state");

function setWs(text, live) {
  wsState.textContent = text;
  wsState.className = "badge " + (live ? "live" : "down");
}

const WS_STATUS = { connecting: "连接中…", retrying: "已断开，正在重连…" };

function onDeskMessage(data) {
  if (data.type === "hello") {
    setWs("已连接", true);
  } else if (data.type === "pop") {
    popsPushed += 1;
    onPop(data);
  } else if (data.type === "prefill") {
    onPrefill(data);
  } else if (data.type === "turn") {
    onTurn(data);
  } else if (data.type === "warning") {
    onWarning(data);
  } else if (data.type === "degraded") {
    setWs("弹屏暂不可用", false);
    message($("#page-msg"), data.message || "实时弹屏暂不可用，请刷新或查看当前通话", "error");
  }
}

function connect() {
  // The desk subscribes each new connection to this agent's pops; a pop sent while disconnected is
  // fetched again after a reconnect.
  reconnecting("/desk", {
    onMessage: onDeskMessage,
    onStatus: (status) => { if (WS_STATUS[status]) setWs(WS_STATUS[status], false); },
    onOpen: ({ reconnected }) => { if (reconnected) loadCurrent(); },
  });
}

async function loadCurrent() {
  const before = popsPushed;
  try {
    const current = await api("GET", "/calls/current");
    if (popsPushed !== before) return;
    if (current && current.type === "pop") onPop(current);
    else if (current && current.type === "callback") onCallback(current);
  } catch (err) {
    message($("#page-msg"), err.message, "error");
  }
}

// ── 业务分类: chosen from the taxonomy by its Chinese name ──────────────────
const topicFilter = $("#topic-filter");

/** Shows only the topics whose name contains ``text``; the first match is chosen (as the agent's choice). */
function filterTopics(text) {
  const wanted = text.trim();
  topicFilter.value = text;
  let first = null;
  for (const option of form.elements.topic.options) {
    const match = !option.value || !wanted || option.textContent.includes(wanted);
    option.hidden = !match;
    if (match && option.value && !first) first = option;
  }
  return first;
}

topicFilter.addEventListener("input", () => {
  const first = filterTopics(topicFilter.value);
  if (!topicFilter.value.trim() || !first || form.elements.topic.value === first.value) return;
  form.elements.topic.value = first.value;
  form.elements.topic.dispatchEvent(new Event("change", { bubbles: true }));   // the agent's pick from now on
});

/** The suggestion's top-1 topic is shown in 业务分类 until the agent picks one (never over the agent's). */
function preselectTopic(answer) {
  const top = answer && answer.topics && answer.topics[0];
  if (!top || !known("topics", top.code) || typed.has("topic")) return;
  setAuto("topic", top.code);
  $("#topic-hint").textContent = `已按建议预选：${top.name}，可更改`;
}

// ── 拟派承办单位: chosen by name (the units' names as the agent types) ───────
let unitTimer = null;
form.elements.suggested_unit.addEventListener("input", () => {
  clearTimeout(unitTimer);
  const q = form.elements.suggested_unit.value.trim();
  if (!q) return;
  unitTimer = setTimeout(async () => {
    try {
      const found = await api("GET", "/units" + qs({ q: q.slice(0, 32), limit: 20 }));
      const names = clear($("#unit-names"));
      for (const name of new Set(found.map((u) => u.name))) names.append(el("option", { value: name }));
    } catch (err) {
      // names only help typing; the field keeps what the agent wrote
    }
  }, 250);
});

/** The form's choices of appeal type, topic (业务分类: chosen, never typed) and urgency, named from the vocabulary. */
function fillChoices() {
  for (const [value, text] of Object.entries(labels("appeal_types"))) form.elements.appeal_type.append(el("option", { value }, text));
  for (const [value, text] of Object.entries(labels("topics"))) form.elements.topic.append(el("option", { value }, text));
  for (const [value, text] of Object.entries(labels("urgency"))) form.elements.urgency.append(el("option", { value }, text));
}

start(["agent"]).then((who) => {
  fillChoices();
  connect();
  loadCurrent();
  telephony = Boolean(who && who.telephony);
  if (who && who.softphone) Softphone.start();
  for (const b of document.querySelectorAll("#status-card button, #phone-card button")) b.disabled = !telephony;
  callbacksPanel($("#callbacks-card"), { telephony });   // 未接来电回拨
  if (telephony) {
    loadPauseReasons();
    agentAction();
  } else {
    $("#agent-state").textContent = "电话系统未连接";
    message(statusMsg, OFFLINE, "error");
  }
}).catch(() => {});
