/* 未接来电回拨: the agent's callback worklist. Each task shows its caller (masked), line, city, missed calls,
   the longest wait, what the caller already said, and a clock against its target; 回拨 rings the agent's own
   phone first, then the citizen (caller ID 12345). After a connected call the agent records the result.
   市民要求不再回拨 closes a task with the citizen's refusal (a reason is asked for; their later missed calls make
   no task, and 智能回访 does not call them).
   Data from GET /api/v1/callbacks; every string the agent reads is in STRINGS. */

import { api } from "./api.js";
import { clear, el, message, show } from "./dom.js";

export const STRINGS = {
  title: "未接来电回拨",
  hint: "未接通的来电按来电人合并，超时的在前",
  empty: "暂无待回拨的来电。",
  quiet: (hours) => `当前为免打扰时段（${hours}），不外呼。`,
  columns: ["来电号码", "热线 / 市县", "未接次数", "最长等待", "回拨时限", "已拨次数", "状态", ""],
  call: "回拨",
  calling: "正在呼叫您的话机…",
  offline: "电话系统未连接，暂不能回拨",
  remaining: (text) => `剩余 ${text}`,
  overdue: (text) => `已超时 ${text}`,
  seconds: (s) => `${s} 秒`,
  said: "来电人已说：",
  status: { ringing_agent: "正在呼叫您的话机，请接起", dialing: "正在拨打市民（来电显示 12345）…",
    connected: "已接通市民，通话录音中", ended: "通话已结束" },
  resultTitle: "登记回拨结果",
  ticketNumber: "工单编号（14 位）",
  saved: "已登记",
  loadFailed: "回拨任务加载失败：",
  optOut: "市民要求不再回拨",
  optOutTitle: (caller) => `登记市民要求不再回拨：${caller}`,
  optOutReason: "原因（市民原话或说明，必填）",
  optOutConfirm: "确认登记",
  optOutCancel: "取消",
  optOutNeedsReason: "请填写原因",
};

const REFRESH_MS = 30000;
const POLL_MS = 1500;

function duration(totalSeconds) {
  const s = Math.abs(Math.trunc(totalSeconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(r)}` : `${two(m)}:${two(r)}`;
}

/** The worklist in ``card`` (an empty <section>); ``telephony``: whether calls can be placed now. */
export function callbacksPanel(card, { telephony = false } = {}) {
  const list = el("tbody");
  const note = el("p", { class: "empty", id: "callbacks-empty" }, STRINGS.empty);
  const msg = el("div", { class: "msg", id: "callbacks-msg", role: "status", "aria-live": "polite" });
  const quiet = el("p", { class: "msg info", id: "callbacks-quiet", hidden: true });
  const result = el("form", { id: "callback-result", hidden: true, novalidate: true });
  const refusal = el("form", { id: "callback-opt-out", hidden: true, novalidate: true });
  const table = el("table", { id: "callbacks-table" },
    el("thead", {}, el("tr", {}, STRINGS.columns.map((c) => el("th", { scope: "col" }, c)))), list);
  clear(card).append(
    el("h2", { id: "callbacks-title" }, STRINGS.title, " ", el("span", { class: "hint" }, STRINGS.hint)),
    quiet, note, el("div", { class: "table-wrap" }, table), result, refusal, msg);
  card.setAttribute("aria-labelledby", "callbacks-title");
  show(card, true);

  let items = [];
  let outcomes = [];   // [{code, label}] the agent may record, as the API names them
  let active = null;   // { taskId, outId }

  function clockCell(item) {
    const left = (Date.parse(item.due_at) - Date.now()) / 1000;
    const overdue = left < 0;
    return el("span", { class: overdue ? "badge overdue" : "badge open", "data-clock": item.due_at },
      overdue ? STRINGS.overdue(duration(left)) : STRINGS.remaining(duration(left)));
  }

  function row(item) {
    const button = el("button", { type: "button", class: "callback-call", "data-task": String(item.id),
      disabled: !telephony || !item.callable || active !== null,
      title: !telephony ? STRINGS.offline : (item.refusal || "") }, STRINGS.call);
    button.addEventListener("click", () => place(item));
    const optOut = el("button", { type: "button", class: "secondary callback-opt-out", "data-task": String(item.id),
      disabled: item.state !== "open" || active !== null }, STRINGS.optOut);
    optOut.addEventListener("click", () => askOptOut(item));
    const where = [item.line_name || item.line || "", item.city].filter(Boolean).join(" / ");
    const cells = [
      el("td", {}, item.caller), el("td", {}, where), el("td", {}, String(item.missed_calls)),
      el("td", {}, STRINGS.seconds(item.wait_seconds)), el("td", {}, clockCell(item)),
      el("td", {}, `${item.attempts} / ${item.max_attempts}`),
      el("td", {}, item.outcome_label || item.state_label, item.refusal ? el("div", { class: "hint" }, item.refusal) : null),
      el("td", { class: "buttons" }, button, optOut)];
    const tr = el("tr", { "data-task": String(item.id), class: item.overdue ? "overdue" : null }, cells);
    if (!item.transcript) return [tr];
    return [tr, el("tr", { class: "said", "data-said": String(item.id) },
      el("td", { colspan: String(STRINGS.columns.length), class: "hint" }, STRINGS.said, item.transcript))];
  }

  function render() {
    clear(list);
    for (const item of items) list.append(...row(item));
    show(note, items.length === 0);
  }

  async function load() {
    try {
      const body = await api("GET", "/callbacks");
      items = body.items;
      outcomes = body.outcomes;
      quiet.textContent = STRINGS.quiet(body.quiet_hours);
      show(quiet, body.quiet_now);
      render();
    } catch (err) {
      message(msg, STRINGS.loadFailed + err.message, "error");
    }
  }

  async function place(item) {
    message(msg, STRINGS.calling, "info");
    try {
      const started = await api("POST", `/callbacks/${item.id}/call`);
      active = { taskId: item.id, outId: started.out_id };
      render();
      message(msg, started.message, "info");
      follow();
    } catch (err) {
      message(msg, err.message, "error");
      load();
    }
  }

  async function follow() {
    if (!active) return;
    try {
      const call = await api("GET", `/callbacks/calls/${active.outId}`);
      if (call.status !== "ended") {
        message(msg, STRINGS.status[call.status] || call.status, "info");
        setTimeout(follow, POLL_MS);
        return;
      }
      const taskId = active.taskId;
      active = null;
      message(msg, `${STRINGS.status.ended}：${call.outcome_label || ""}`, call.outcome === "connected" ? "ok" : "info");
      if (call.outcome === "connected") askResult(taskId);
      load();
    } catch (err) {
      message(msg, err.message, "error");
      setTimeout(follow, POLL_MS * 2);
    }
  }

  function askResult(taskId) {
    const ticket = el("input", { type: "text", id: "callback-ticket", inputmode: "numeric", maxlength: "14",
      pattern: "[0-9]{14}", "aria-label": STRINGS.ticketNumber, placeholder: STRINGS.ticketNumber });
    const buttons = outcomes.map(({ code: outcome, label: text }) => el("button", {
      type: "button", class: "secondary", "data-outcome": outcome,
      onclick: async () => {
        const body = { outcome };
        if (outcome === "ticket_created") body.ticket_number = ticket.value.trim();
        try {
          await api("POST", `/callbacks/${taskId}/outcome`, body);
          show(result, false);
          message(msg, STRINGS.saved + "：" + text, "ok");
          load();
        } catch (err) {
          message(msg, err.message, "error");
        }
      } }, text));
    clear(result).append(el("h3", {}, STRINGS.resultTitle), el("div", { class: "buttons" }, buttons),
      el("div", { class: "field" }, ticket));
    show(result, true);
  }

  function askOptOut(item) {
    const reason = el("textarea", { id: "callback-opt-out-reason", rows: "2", maxlength: "500", required: true,
      "aria-label": STRINGS.optOutReason, placeholder: STRINGS.optOutReason });
    const confirm = el("button", { type: "submit", id: "callback-opt-out-confirm" }, STRINGS.optOutConfirm);
    const cancel = el("button", { type: "button", class: "secondary", onclick: () => show(refusal, false) },
      STRINGS.optOutCancel);
    refusal.onsubmit = async (event) => {
      event.preventDefault();
      const text = reason.value.trim();
      if (!text) {
        message(msg, STRINGS.optOutNeedsReason, "error");
        reason.focus();
        return;
      }
      confirm.disabled = true;
      try {
        const done = await api("POST", `/callbacks/${item.id}/opt-out`, { reason: text });
        show(refusal, false);
        message(msg, done.message, "ok");
        load();
      } catch (err) {
        confirm.disabled = false;
        message(msg, err.message, "error");   // nothing lost: the reason stays in the form
      }
    };
    clear(refusal).append(el("h3", {}, STRINGS.optOutTitle(item.caller)), el("div", { class: "field" }, reason),
      el("div", { class: "buttons" }, confirm, cancel));
    show(refusal, true);
    reason.focus();
  }

  setInterval(() => {
    for (const node of card.querySelectorAll("[data-clock]")) {
      const left = (Date.parse(node.dataset.clock) - Date.now()) / 1000;
      node.className = left < 0 ? "badge overdue" : "badge open";
      node.textContent = left < 0 ? STRINGS.overdue(duration(left)) : STRINGS.remaining(duration(left));
    }
  }, 1000);
  setInterval(() => { if (!active) load(); }, REFRESH_MS);
  load();
  return { load };
}
