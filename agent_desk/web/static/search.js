/* 工单查询: filters over GET /api/v1/tickets, keyset paging (next_before_id), and the detail view where
   supervisors run their review actions (approve_reply, callback, approve_return …). */

import { api, qs } from "./api.js";
import { $, clear, el, message, show } from "./dom.js";
import { optionList } from "./forms.js";
import { start } from "./header.js";
import { renderTicket } from "./ticket.js";
import { overdueBadge, stateBadge } from "./ticket-view.js";
import { fmtTime } from "./time.js";
import { labels } from "./vocab.js";

const form = $("#search-form");
const body = $("#results tbody");
let pages = [null];   // before_id of each page seen (the first page has none)
let pageIndex = 0;
let nextBefore = null;
let lastQuery = {};

function query() {
  return {
    number: form.number.value.trim(), phone: form.phone.value.trim(), q: form.q.value.trim(),
    state: form.state.value, appeal_type: form.appeal_type.value, created_from: form.created_from.value,
    created_to: form.created_to.value, overdue: form.overdue.checked ? "true" : "",
  };
}

function validate(q) {
  if (q.number && !/^\d{1,14}$/.test(q.number)) return "工单编号只能是数字（最多14位）";
  if (q.phone && !/^[0-9+\-]{3,32}$/.test(q.phone)) return "来电号码格式不正确（至少3位数字）";
  if (q.created_from && q.created_to && q.created_from > q.created_to) return "受理日期的起始日不能晚于截止日";
  return null;
}

function row(t) {
  return el("tr", { "data-number": t.number, class: t.overdue ? "overdue" : null },
    el("td", {}, t.number), el("td", {}, t.title), el("td", {}, t.appeal_label),
    el("td", {}, t.citizen_phone || "—"),
    el("td", {}, stateBadge(t), " ", overdueBadge(t)),
    el("td", {}, t.host_unit_name || "—"), el("td", {}, fmtTime(t.created_at)),
    el("td", {}, el("button", { type: "button", onclick: () => open(t.number), "aria-label": `查看工单 ${t.number}` }, "查看")));
}

async function run(index) {
  const before = pages[index];
  try {
    const page = await api("GET", "/tickets" + qs({ ...lastQuery, before_id: before || "", limit: 20 }));
    clear(body);
    for (const t of page.items) body.append(row(t));
    if (!page.items.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "empty" }, "没有符合条件的工单")));
    pageIndex = index;
    nextBefore = page.next_before_id;
    pages = pages.slice(0, index + 1);
    if (nextBefore) pages.push(nextBefore);
    $("#prev-page").disabled = index === 0;
    $("#next-page").disabled = !nextBefore;
    $("#page-no").textContent = `第 ${index + 1} 页`;
    message($("#search-msg"), "", "info");
  } catch (err) {
    message($("#search-msg"), err.message, "error");
  }
}

async function open(number) {
  show($("#detail-card"), true);
  try {
    await renderTicket($("#ticket-detail"), number, { onChanged: () => run(pageIndex) });
  } catch (err) {
    message($("#search-msg"), err.message, "error");
  }
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = query();
  const problem = validate(q);
  if (problem) { message($("#search-msg"), problem, "error"); return; }
  lastQuery = q;
  pages = [null];
  run(0);
});
$("#next-page").addEventListener("click", () => run(pageIndex + 1));
$("#prev-page").addEventListener("click", () => run(Math.max(0, pageIndex - 1)));

start(["agent", "supervisor", "unit"]).then((who) => {
  form.state.append(...optionList(labels("ticket_states"), "全部"));
  form.appeal_type.append(...optionList(labels("appeal_types"), "全部"));
  if (who.role === "unit") { show($("#phone-field"), false); form.phone.value = ""; }
  const number = new URLSearchParams(location.search).get("number");
  if (number && /^\d{14}$/.test(number)) { form.number.value = number; open(number); }
  lastQuery = query();
  run(0);
}).catch(() => {});
