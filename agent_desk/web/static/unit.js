/* 承办单位: the unit's own tickets (the API shows it nothing else), overdue marked; open one to sign, reply,
   return (reason + legal basis) or appeal, as its allowed_actions say. */

import { api, qs } from "./api.js";
import { $, clear, el, message, show } from "./dom.js";
import { start } from "./header.js";
import { renderTicket } from "./ticket.js";
import { overdueBadge, stateBadge } from "./ticket-view.js";
import { fmtTime } from "./time.js";
import { label } from "./vocab.js";

const body = $("#inbox tbody");
const more = $("#inbox-more");
const filter = $("#inbox-filter");
let nextBefore = null;

// The states a unit's tickets can be in, for the filter (named from the vocabulary).
const FILTER_STATES = ["dispatched", "signed", "return_requested", "consultation", "replied", "unsatisfied", "appealed", "closed"];
const FILTER_NOTES = { dispatched: "（待签收）" };

function fillFilter() {
  for (const state of FILTER_STATES) {
    filter.state.append(el("option", { value: state }, label("ticket_states", state) + (FILTER_NOTES[state] || "")));
  }
}

function row(t) {
  return el("tr", { "data-number": t.number, class: t.overdue ? "overdue" : null },
    el("td", {}, t.number),
    el("td", {}, t.title),
    el("td", {}, t.appeal_label),
    el("td", {}, stateBadge(t), " ", overdueBadge(t)),
    el("td", {}, t.due_at ? fmtTime(t.due_at) : "—"),
    el("td", {}, el("button", { type: "button", onclick: () => open(t.number), "aria-label": `打开工单 ${t.number}` }, "打开")));
}

async function load(append) {
  const params = { state: filter.state.value, overdue: filter.overdue.checked ? "true" : "", limit: 20,
    before_id: append ? nextBefore : "" };
  try {
    const page = await api("GET", "/tickets" + qs(params));
    if (!append) clear(body);
    for (const t of page.items) body.append(row(t));
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "暂无工单")));
    nextBefore = page.next_before_id;
    show(more, Boolean(nextBefore));
    message($("#inbox-msg"), "", "info");
  } catch (err) {
    message($("#inbox-msg"), err.message, "error");
  }
}

async function open(number) {
  show($("#detail-card"), true);
  try {
    await renderTicket($("#ticket-detail"), number, { onChanged: () => load(false) });
  } catch (err) {
    message($("#inbox-msg"), err.message, "error");
  }
}

filter.addEventListener("submit", (ev) => { ev.preventDefault(); load(false); });
$("#inbox-refresh").addEventListener("click", () => load(false));
more.addEventListener("click", () => load(true));

start(["unit"]).then(() => {
  fillFilter();
  load(false);
  const number = new URLSearchParams(location.search).get("number");
  if (number && /^\d{14}$/.test(number)) open(number);
}).catch(() => {});
