/* 承办单位: the unit's own tickets (the API shows it nothing else) as a full-width sortable list, overdue marked and
   the time left shown; one click opens a ticket (in a dialog over the list) to sign, reply, return (reason + legal
   basis) or appeal, as its allowed_actions say. */

import { api, qs } from "./api.js";
import { $, el, message, show } from "./dom.js";
import { start } from "./header.js";
import { numberInAddress, openTicket } from "./ticket-dialog.js";
import { ticketTable } from "./ticket-list.js";
import { label } from "./vocab.js";

const PAGE = 50;
const TEXT = { none: "暂无工单", count: (n, more) => `已加载 ${n} 张${more ? "，还有更多" : ""}` };

const more = $("#inbox-more");
const filter = $("#inbox-filter");
let nextBefore = null;
let who = null;
let asked = 0;

// The states a unit's tickets can be in, for the filter (named from the vocabulary).
const FILTER_STATES = ["dispatched", "signed", "return_requested", "consultation", "replied", "unsatisfied", "appealed", "closed"];
const FILTER_NOTES = { dispatched: "（待签收）" };

const list = ticketTable({
  id: "inbox", caption: "本单位工单列表", empty: TEXT.none, onOpen: (number) => open(number),
  columns: ["number", "title", "type", "state", "unit", "due", "created"],
});
$("#inbox-wrap").append(list.table);

function fillFilter() {
  for (const state of FILTER_STATES) {
    filter.state.append(el("option", { value: state }, label("ticket_states", state) + (FILTER_NOTES[state] || "")));
  }
}

async function load(append) {
  const params = { state: filter.state.value, overdue: filter.overdue.checked ? "true" : "", limit: PAGE,
    before_id: append ? nextBefore : "" };
  const mine = ++asked;
  try {
    const page = await api("GET", "/tickets" + qs(params));
    if (mine !== asked) return;   // an older answer arriving after a newer request
    if (append) list.add(page.items);
    else list.set(page.items);
    nextBefore = page.next_before_id;
    show(more, Boolean(nextBefore));
    $("#list-count").textContent = TEXT.count(list.rows().length, Boolean(nextBefore));
    message($("#inbox-msg"), "", "info");
  } catch (err) {
    message($("#inbox-msg"), err.message, "error");
  }
}

const open = (number) => openTicket(number, who, { onChanged: () => load(false) });

filter.addEventListener("submit", (ev) => { ev.preventDefault(); load(false); });
$("#inbox-refresh").addEventListener("click", () => load(false));
more.addEventListener("click", () => load(true));

start(["unit"]).then((me) => {
  who = me;
  fillFilter();
  load(false);
  const number = numberInAddress();
  if (number) open(number);
}).catch(() => {});
