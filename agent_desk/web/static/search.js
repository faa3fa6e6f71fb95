/* 工单查询: filters over GET /api/v1/tickets (newest first, 加载更多 by next_before_id), the results as a full-width
   sortable list, and the ticket in a dialog over it, where supervisors run their review actions (approve_reply,
   callback, approve_return …). ?state=…&overdue=true (the supervisor's home links here), ?number=… presets the filters. */

import { api, qs } from "./api.js";
import { $, message, show } from "./dom.js";
import { applyLimits, checkForm, loadLimits, optionList } from "./forms.js";
import { start } from "./header.js";
import { numberInAddress, openTicket } from "./ticket-dialog.js";
import { ticketTable } from "./ticket-list.js";
import { labels } from "./vocab.js";

const PAGE = 50;
const TEXT = {
  prompt: "请输入条件后查询", none: "没有符合条件的工单", count: (n, more) => `已加载 ${n} 张${more ? "，还有更多" : ""}`,
};

const form = $("#search-form");
let who = null;
let nextBefore = null;
let lastQuery = {};

const list = ticketTable({
  id: "results", caption: "工单查询结果", empty: TEXT.prompt, onOpen: (number) => open(number),
  columns: ["number", "title", "type", "phone", "state", "unit", "due", "created"],
});
$("#results-wrap").append(list.table);

function query() {
  return {
    number: form.number.value.trim(), phone: form.phone.value.trim(), q: form.q.value.trim(),
    state: form.state.value, appeal_type: form.appeal_type.value, created_from: form.created_from.value,
    created_to: form.created_to.value, overdue: form.overdue.checked ? "true" : "",
  };
}

function validate(q) {
  const problems = checkForm(form);   // length (the server's limits), in the desk's words
  if (problems.length) return problems[0];
  if (q.number && !/^\d{1,14}$/.test(q.number)) return "工单编号只能是数字（最多14位）";
  if (q.phone && !/^[0-9+\-]{3,32}$/.test(q.phone)) return "来电号码格式不正确（至少3位数字）";
  if (q.created_from && q.created_to && q.created_from > q.created_to) return "受理日期的起始日不能晚于截止日";
  return null;
}

let asked = 0;   // the latest request: an older answer arriving after it (the first load, a slow page) is dropped

async function run(append) {
  const mine = ++asked;
  try {
    const page = await api("GET", "/tickets" + qs({ ...lastQuery, before_id: append ? nextBefore : "", limit: PAGE }));
    if (mine !== asked) return;
    if (append) list.add(page.items);
    else list.set(page.items, TEXT.none);
    nextBefore = page.next_before_id;
    show($("#more"), Boolean(nextBefore));
    $("#list-count").textContent = TEXT.count(list.rows().length, Boolean(nextBefore));
    message($("#search-msg"), "", "info");
  } catch (err) {
    message($("#search-msg"), err.message, "error");
  }
}

const open = (number) => openTicket(number, who, { onChanged: () => run(false) });

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = query();
  const problem = validate(q);
  if (problem) { message($("#search-msg"), problem, "error"); return; }
  lastQuery = q;
  run(false);
});
$("#more").addEventListener("click", () => run(true));

/** Filters named in the address (?state=replied, ?overdue=true …), as the supervisor's work queues link them. */
function presetFromAddress() {
  const params = new URLSearchParams(location.search);
  const state = params.get("state");
  if (state && labels("ticket_states")[state]) form.state.value = state;
  const appeal = params.get("appeal_type");
  if (appeal && labels("appeal_types")[appeal]) form.appeal_type.value = appeal;
  if (params.get("overdue") === "true") form.overdue.checked = true;
  for (const name of ["number", "phone", "q"]) {   // also what a form sent before this script ran carries
    const value = params.get(name);
    if (value) form[name].value = value;
  }
}

start(["agent", "supervisor", "unit"]).then((me) => {
  who = me;
  form.state.append(...optionList(labels("ticket_states"), "全部"));
  form.appeal_type.append(...optionList(labels("appeal_types"), "全部"));
  presetFromAddress();
  if (who.role === "unit") { show($("#phone-field"), false); form.phone.value = ""; }
  loadLimits().then((limits) => applyLimits(form, limits.search)).catch(() => {});   // the server refuses anyway
  lastQuery = query();
  run(false);
  const number = numberInAddress();
  if (number) open(number);
}).catch(() => {});
