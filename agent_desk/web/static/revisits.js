/* 回访工作台: the tickets waiting for their callback (GET /api/v1/revisits), the longest waiting first, with the
   人工回访复核 items of the automated campaigns (an unsatisfied or unsolved answer by keys or voice, state to_agent)
   before them where that API exists, with the keys pressed and what was heard (语音回答). One click shows the
   ticket beside the list: the unit's reply, the 回拨 button with the call's progress, the verdict form (满意 /
   基本满意 / 不满意, 问题已解决, 不满意原因 when unsatisfied) recorded through the ticket's lifecycle action 回访,
   and its history. Every string the user reads is in TEXT. */

import { api } from "./api.js";
import { $, clear, el, message, show } from "./dom.js";
import { start } from "./header.js";
import { numberInAddress } from "./ticket-dialog.js";
import { renderTicket } from "./ticket.js";
import { fmtTime } from "./time.js";

export const TEXT = {
  title: "回访工作台",
  hint: "待回访工单，等待最久的在前；智能回访中市民表示不满意或未解决的（人工回访复核）排在最前。回拨后在右侧登记回访结果。",
  refresh: "刷新",
  count: (shown, total) => (shown < total ? `共 ${total} 件，显示 ${shown} 件` : `共 ${total} 件`),
  empty: "暂无待回访的工单。",
  none: "请在左侧选择一张工单。",
  ticketTitle: "回访工单",
  review: "人工回访复核",
  reviewVerdict: (label) => `智能回访：${label}`,
  reviewKeys: (digits) => `按键：${digits}`,
  reviewSaid: (said) => `语音回答：${said}`,
  waited: (at) => `进入待回访 ${fmtTime(at)}`,
  calls: (n) => (n ? `已回拨 ${n} 次` : "未回拨"),
  reply: "承办单位答复",
  replyBy: (who, at) => `${who || ""} ${at ? fmtTime(at) : ""}`.trim(),
  noReply: "（无答复内容）",
  open: (n) => `打开工单 ${n}`,
  recorded: "回访结果已登记",
  loadFailed: "待回访工单加载失败：",
};

const REFRESH_MS = 60_000;
let current = null;

/** 人工回访复核: the tickets an automated call sent to a person (unsatisfied, unsolved or 0 pressed), {number →
    verdict label}, from GET /revisits/reviews (agents and supervisors; audited). A desk that cannot answer it
    lists the 待回访 tickets alone. */
async function reviewItems() {
  const found = new Map();
  let items;
  try {
    items = (await api("GET", "/revisits/reviews")).items || [];
  } catch (err) {
    return found;
  }
  for (const item of items) {
    found.set(item.ticket_number, { label: item.verdict_label || item.outcome_label, masked: item.caller_masked,
      at: item.updated_at, digits: item.digits || "", said: item.said || "" });
  }
  return found;
}

function row(item, review) {
  const li = el("li", { "data-number": item.number, class: review ? "review" : null,
    "aria-current": current === item.number ? "true" : null },
  el("div", { class: "q-line" },
    el("a", { href: `?number=${item.number}`, "aria-label": TEXT.open(item.number), "data-open": item.number }, item.number),
    review ? el("span", { class: "badge overdue" }, TEXT.review) : null,
    el("span", { class: "q-wait" }, TEXT.calls(item.calls))),
  el("span", { class: "one-line q-title", title: item.title }, item.title),
  review ? el("span", { class: "hint" }, TEXT.reviewVerdict(review.label)) : null,
  // what the verdict was taken from: the keys pressed and, answered by voice, what the speech engine heard
  review && review.digits ? el("span", { class: "hint review-keys" }, TEXT.reviewKeys(review.digits)) : null,
  review && review.said ? el("span", { class: "one-line hint review-said", title: review.said },
    TEXT.reviewSaid(review.said)) : null,
  el("span", { class: "one-line hint" }, [item.host_unit_name, item.caller_masked].filter(Boolean).join(" · ")),
  el("span", { class: "hint" }, TEXT.waited(item.waiting_since)));
  li.addEventListener("click", (ev) => {
    if (ev.target.closest("a") && (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0)) return;
    ev.preventDefault();
    openOne(item);
  });
  return li;
}

let items = [];
let who = null;

async function load() {
  try {
    const [body, reviews] = await Promise.all([api("GET", "/revisits?limit=100"), reviewItems()]);
    items = body.items;
    // 人工回访复核 first (a person must hear why the citizen is unhappy), then the longest waiting.
    const ordered = [...items.filter((i) => reviews.has(i.number)), ...items.filter((i) => !reviews.has(i.number))];
    const list = clear($("#revisit-list"));
    list.append(...ordered.map((i) => row(i, reviews.get(i.number))));
    if (!ordered.length) list.append(el("li", { class: "empty" }, TEXT.empty));
    $("#revisit-count").textContent = TEXT.count(items.length, body.total);
    message($("#revisit-msg"), "", "info");
  } catch (err) {
    message($("#revisit-msg"), TEXT.loadFailed + err.message, "error");
  }
}

async function openOne(item) {
  current = item.number;
  for (const li of document.querySelectorAll("#revisit-list li[data-number]")) {
    li.setAttribute("aria-current", String(li.dataset.number === item.number));
  }
  const url = new URL(location.href);
  url.searchParams.set("number", item.number);
  history.replaceState(null, "", url.pathname + url.search);
  show($("#revisit-none"), false);
  const reply = clear($("#revisit-reply"));
  reply.append(el("section", { class: "reply-box", "aria-label": TEXT.reply },
    el("h3", {}, TEXT.reply, " ", el("span", { class: "hint" }, TEXT.replyBy(item.replied_by, item.replied_at))),
    el("div", { class: "long-text", id: "revisit-reply-text" }, item.reply || TEXT.noReply)));
  try {
    await renderTicket($("#revisit-ticket"), item.number, { openAction: "callback", onChanged: (fresh) => {
      if (fresh.state !== "awaiting_callback") message($("#revisit-msg"), `${TEXT.recorded}：${fresh.number}`, "ok");
      load();
    } });
  } catch (err) {
    message($("#revisit-msg"), err.message, "error");
  }
}

$("#revisit-title").textContent = TEXT.title;
$("#revisit-ticket-title").textContent = TEXT.ticketTitle;
$("#revisit-hint").textContent = TEXT.hint;
$("#revisit-none").textContent = TEXT.none;
$("#revisit-refresh").textContent = TEXT.refresh;
$("#revisit-refresh").addEventListener("click", () => load());

start(["agent", "supervisor"]).then(async (me) => {
  who = me;
  await load();
  setInterval(load, REFRESH_MS);
  const number = numberInAddress();
  const wanted = number && items.find((i) => i.number === number);
  if (wanted) openOne(wanted);
}).catch(() => {});
