/* 我的待办: the supervisor's home. One card per work queue (GET /api/v1/worklists): its count and the items that
   have waited longest, oldest first; one click opens a ticket beside the queues (its actions reload them), 查看全部
   lists the whole queue in 工单查询. Refreshed every minute and after every action. */

import { api, qs } from "./api.js";
import { $, clear, el, message } from "./dom.js";
import { start } from "./header.js";
import { numberInAddress, openTicket } from "./ticket-dialog.js";
import { span, unitName } from "./ticket-list.js";
import { stateBadge } from "./ticket-view.js";
import { fmtTime } from "./time.js";

const TEXT = {
  stamp: (at) => `统计时间 ${fmtTime(at)}`, empty: "暂无", all: (n) => `在工单查询中查看全部 ${n} 件`,
  waited: (ms) => `已等待 ${span(ms)}`, late: (ms) => `已超期 ${span(ms)}`, raised: (at) => `发出于 ${fmtTime(at)}`,
  count: (n) => (n === null ? "—" : String(n)), unit: "件", open: (n) => `查看工单 ${n}`, wall: "在实时监控中查看",
};
const REFRESH_MS = 60_000;

let who = null;

function itemRow(queue, item, now) {
  const since = new Date(item.since).getTime();
  if (!item.number) {   // an early warning
    return el("li", { "data-warning": item.warning_id },
      el("span", { class: "one-line", title: item.title }, item.title),
      el("span", { class: "hint" }, TEXT.raised(item.since)));
  }
  const wait = queue.key === "overdue" ? TEXT.late(now - since) : TEXT.waited(now - since);
  const link = el("a", { href: `?number=${item.number}`, "aria-label": TEXT.open(item.number), "data-open": item.number },
    item.number);
  const li = el("li", { "data-number": item.number },
    el("div", { class: "q-line" }, link, stateBadge(item), el("span", { class: "q-wait" }, wait)),
    el("span", { class: "one-line q-title", title: item.title }, item.title),
    el("span", { class: "one-line hint", title: unitName(item) }, unitName(item)));
  li.addEventListener("click", (ev) => {
    if (ev.target.closest("a") && (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0)) return;
    ev.preventDefault();
    open(item.number);
  });
  return li;
}

function card(queue, now) {
  const items = queue.items.length ? el("ol", { class: "q-items plain" }, queue.items.map((i) => itemRow(queue, i, now)))
    : el("p", { class: "empty" }, queue.available ? TEXT.empty : queue.note);
  const more = queue.list_filter && queue.count ? el("a", { href: "/search.html" + qs(queue.list_filter), class: "q-all" },
    TEXT.all(queue.count)) : queue.key === "warnings" && queue.count ? el("a", { href: "/wallboard.html", class: "q-all" }, TEXT.wall) : null;
  return el("section", { class: "card queue" + (queue.count ? " busy" : ""), "data-queue": queue.key,
    "aria-labelledby": `q-${queue.key}` },
  el("div", { class: "q-head" },
    el("h3", { id: `q-${queue.key}` }, queue.label),
    el("span", { class: "q-count", "data-count": queue.count === null ? "" : queue.count }, TEXT.count(queue.count),
      el("small", {}, TEXT.unit))),
  el("p", { class: "hint q-desc" }, queue.description), items, more);
}

async function load() {
  try {
    const data = await api("GET", "/worklists" + qs({ limit: 5 }));
    const now = Date.now();
    clear($("#queues")).append(...data.queues.map((q) => card(q, now)));
    $("#home-stamp").textContent = TEXT.stamp(data.generated_at);
    message($("#home-msg"), "", "info");
  } catch (err) {
    message($("#home-msg"), err.message, "error");
  }
}

const open = (number) => openTicket(number, who, { onChanged: () => load() });

$("#home-refresh").addEventListener("click", () => load());

start(["supervisor"]).then((me) => {
  who = me;
  load();
  setInterval(load, REFRESH_MS);
  const number = numberInAddress();
  if (number) open(number);
}).catch(() => {});
