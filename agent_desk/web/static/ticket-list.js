/* The work lists (工单查询, 待办工单): a full-width table of ticket summaries, sortable by any column, each title on
   one line (the whole title on hover), one click on a row to open its ticket. Sorting orders the rows loaded so
   far (the API pages newest first; 加载更多 adds the next page and the order is kept). */

import { el } from "./dom.js";
import { overdueBadge, stateBadge } from "./ticket-view.js";
import { fmtTime } from "./time.js";

const TEXT = {
  sortAsc: "（升序）", sortDesc: "（降序）", sortBy: (name) => `按${name}排序`,
  overdueBy: (span) => `已超期 ${span}`, left: (span) => `剩余 ${span}`,
  open: (number) => `查看工单 ${number}`, none: "—",
};

// Where a ticket's deadline runs (from 派单 until its reply is accepted): agent_desk.tickets.lifecycle.UNIT_HANDLING
// (tests/browser/test_lists_ui.py checks the two agree).
export const DEADLINE_STATES = new Set(["dispatched", "signed", "return_requested", "returned", "consultation", "replied"]);

const zh = new Intl.Collator("zh-Hans-CN");   // 拼音 order of Chinese names and titles

/** "2天3小时", "5小时20分", "40分" of a span in milliseconds. */
export function span(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days) return `${days}天${hours ? hours + "小时" : ""}`;
  if (hours) return `${hours}小时${minutes % 60 ? (minutes % 60) + "分" : ""}`;
  return `${minutes % 60}分`;
}

/** The unit a person reads: the API's name (never its code). One place, so a later *_name field is used here only. */
export function unitName(ticket) {
  return ticket.host_unit_name || TEXT.none;
}

/** 办理时限 with the time left (or by how much it is late) while the deadline runs. */
function deadline(ticket, now) {
  if (!ticket.due_at) return [TEXT.none];
  const due = new Date(ticket.due_at).getTime();
  const parts = [el("span", { class: "due-at" }, fmtTime(ticket.due_at))];
  if (ticket.overdue) parts.push(el("span", { class: "time-left late" }, TEXT.overdueBy(span(now - due))));
  else if (DEADLINE_STATES.has(ticket.state) && due > now) {
    parts.push(el("span", { class: "time-left" + (due - now < 86400000 ? " soon" : "") }, TEXT.left(span(due - now))));
  }
  return parts;
}

const dueKey = (t) => (t.due_at ? new Date(t.due_at).getTime() : Number.POSITIVE_INFINITY);

/** Every column a list may show: its header, its cell, how it sorts. */
export const COLUMNS = {
  number: { head: "工单编号", cls: "c-number", key: (t) => t.number,
    cell: (t) => el("a", { href: `?number=${t.number}`, "aria-label": TEXT.open(t.number), "data-open": t.number }, t.number) },
  title: { head: "标题", cls: "c-title", key: (t) => t.title, text: true,
    cell: (t) => el("span", { class: "one-line", title: t.title }, t.title) },
  type: { head: "类型", cls: "c-type", key: (t) => t.appeal_label || "", text: true, cell: (t) => t.appeal_label },
  phone: { head: "来电号码", cls: "c-phone", key: (t) => t.citizen_phone || "", cell: (t) => t.citizen_phone || TEXT.none },
  state: { head: "状态", cls: "c-state", key: (t) => t.state_label || t.state, text: true,
    cell: (t) => [stateBadge(t), " ", overdueBadge(t)] },
  unit: { head: "主办单位", cls: "c-unit", key: (t) => t.host_unit_name || "", text: true,
    cell: (t) => el("span", { class: "one-line", title: unitName(t) }, unitName(t)) },
  due: { head: "办理时限", cls: "c-due", key: dueKey, cell: (t, now) => deadline(t, now) },
  created: { head: "受理时间", cls: "c-created", key: (t) => t.created_at, cell: (t) => fmtTime(t.created_at) },
};

function compare(column, a, b) {
  const x = column.key(a);
  const y = column.key(b);
  if (typeof x === "number" || typeof y === "number") return x - y;
  return column.text ? zh.compare(x, y) : (x < y ? -1 : x > y ? 1 : 0);
}

/**
 * A sortable list of tickets. ``columns``: keys of COLUMNS in order; ``onOpen(number)``: a row was clicked (or its
 * number link followed); ``caption``: for screen readers; ``empty``: the text of an empty list.
 * Returns { table, set(rows), add(rows), rows() }.
 */
export function ticketTable({ id, columns, onOpen, caption, empty }) {
  const cols = columns.map((name) => ({ name, ...COLUMNS[name] }));
  let rows = [];
  let emptyText = empty;
  let sort = null;   // { name, dir: 1 | -1 } or null: the API's order (newest first)
  const body = el("tbody");
  const heads = cols.map((c) => {
    // named by its header (th's aria-sort says how it is sorted); no aria-label, so the page's form fields keep
    // their names to themselves
    const button = el("button", { type: "button", class: "sort", "data-sort": c.name, title: TEXT.sortBy(c.head) },
      c.head, el("span", { class: "sort-mark", "aria-hidden": "true" }));
    button.addEventListener("click", () => {
      sort = sort && sort.name === c.name ? { name: c.name, dir: -sort.dir } : { name: c.name, dir: 1 };
      draw();
    });
    return el("th", { scope: "col", class: c.cls, "aria-sort": "none" }, button);
  });
  const table = el("table", { id, class: "ticket-list" },
    el("caption", { class: "sr-only" }, caption),
    el("colgroup", {}, cols.map((c) => el("col", { class: c.cls }))),
    el("thead", {}, el("tr", {}, heads)), body);

  function row(t, now) {
    const tr = el("tr", { "data-number": t.number, class: t.overdue ? "overdue" : null },
      cols.map((c) => el("td", { class: c.cls }, c.cell(t, now))));
    tr.addEventListener("click", (ev) => {
      if (ev.target.closest("a") && (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0)) return;  // a new tab
      ev.preventDefault();
      onOpen(t.number);
    });
    return tr;
  }

  function draw() {
    const now = Date.now();
    const shown = sort ? [...rows].sort((a, b) => sort.dir * compare(COLUMNS[sort.name], a, b)) : rows;
    heads.forEach((th, i) => {
      const on = sort && sort.name === cols[i].name;
      th.setAttribute("aria-sort", on ? (sort.dir > 0 ? "ascending" : "descending") : "none");
      th.querySelector(".sort-mark").textContent = on ? (sort.dir > 0 ? "▲" : "▼") : "";
      th.querySelector("button").title = TEXT.sortBy(cols[i].head) + (on ? (sort.dir > 0 ? TEXT.sortAsc : TEXT.sortDesc) : "");
    });
    body.replaceChildren(...(shown.length ? shown.map((t) => row(t, now))
      : [el("tr", {}, el("td", { colspan: cols.length, class: "empty" }, emptyText))]));
  }

  draw();
  return {
    table,
    set(items, emptyNow) { rows = [...items]; if (emptyNow) emptyText = emptyNow; draw(); },
    add(items) { rows = rows.concat(items); draw(); },
    rows: () => rows,
  };
}
