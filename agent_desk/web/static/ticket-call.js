/* 回拨 from a ticket: the button (agents and supervisors, a ticket with a contact number, the phone system
   connected), the call's progress (振铃您的话机 → 正在呼叫市民 → 通话中 → 结果) polled from
   GET /api/v1/callbacks/calls/{out_id}, and the ticket's 回拨 calls as rows of its history
   (GET /api/v1/revisits/tickets/{number}/calls). The number is never shown here: the desk dials what the ticket
   holds, and the button names it masked as the ticket shows it. Every string the user reads is in TEXT. */

import { api } from "./api.js";
import { el, message } from "./dom.js";

export const TEXT = {
  call: "回拨",
  callTitle: (phone) => `回拨市民 ${phone}（先呼叫您的话机，接起后拨打市民，来电显示 12345）`,
  offline: "电话系统未连接，暂不能回拨",
  noNumber: "工单上没有联系电话",
  notYours: "只能回拨本人受理、本人接听或平台可见的工单",
  starting: "正在发起回拨…",
  status: { ringing_agent: "振铃您的话机，请接起", dialing: "正在呼叫市民（来电显示 12345）…",
    connected: "通话中（全程录音）", ended: "通话已结束" },
  result: (label) => `回拨结束：${label}`,
  historyAction: "回拨",
  historyText: (call) => [call.outcome_label || call.status_label, call.recording ? "有录音" : null]
    .filter(Boolean).join("；"),
  callsFailed: "回拨记录暂时无法读取：",
};

export const CALLERS = new Set(["agent", "supervisor"]);
const POLL_MS = 1000;

let me = null;
/** The signed-in user (GET /me, once per page load). */
export function signedIn() {
  if (!me) me = api("GET", "/me");
  return me;
}

/** The ticket's 回拨 calls as history entries ({at, action_label, actor_name, text}); [] for roles that place none. */
export async function callEvents(number, who) {
  if (!CALLERS.has(who.role)) return [];
  const body = await api("GET", `/revisits/tickets/${encodeURIComponent(number)}/calls`);
  return body.items.map((call) => ({ at: call.started_at, action: "callback_call", action_label: TEXT.historyAction,
    actor_name: call.agent_name || call.agent, to_state: null, from_state: null, text: TEXT.historyText(call),
    out_id: call.out_id }));
}

/**
 * The 回拨 control of ``detail`` for ``who`` (null when this role places no calls); ``onEnded()`` runs when the
 * call ended (the page reloads the ticket, whose history then holds the call).
 */
export function callControl(detail, who, onEnded) {
  if (!CALLERS.has(who.role)) return null;
  const status = el("div", { class: "msg", id: "ticket-call-msg", role: "status", "aria-live": "polite" });
  // A number this user sees masked is one they may not have called (the API refuses it too).
  const reason = !detail.citizen_phone ? TEXT.noNumber : detail.contact_masked ? TEXT.notYours
    : !who.telephony ? TEXT.offline : null;
  const button = el("button", { type: "button", id: "ticket-call", class: "secondary", disabled: Boolean(reason),
    title: reason || TEXT.callTitle(detail.citizen_phone) }, TEXT.call);
  let following = null;

  async function follow() {
    try {
      const call = await api("GET", `/callbacks/calls/${following}`);
      if (call.status !== "ended") {
        status.dataset.status = call.status;
        message(status, TEXT.status[call.status] || TEXT.status.dialing, "info");
        setTimeout(follow, POLL_MS);
        return;
      }
      following = null;
      status.dataset.status = "ended";
      message(status, TEXT.result(call.outcome_label || TEXT.status.ended), call.outcome === "connected" ? "ok" : "info");
      button.disabled = false;
      if (onEnded) onEnded(call);
    } catch (err) {
      message(status, err.message, "error");
      setTimeout(follow, POLL_MS * 3);
    }
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    message(status, TEXT.starting, "info");
    try {
      const started = await api("POST", `/callbacks/tickets/${encodeURIComponent(detail.number)}/call`);
      following = started.out_id;
      status.dataset.status = started.status;
      message(status, TEXT.status[started.status] || started.message, "info");
      setTimeout(follow, POLL_MS);
    } catch (err) {
      message(status, err.message, "error");
      button.disabled = false;
    }
  });
  return el("div", { class: "ticket-call" }, el("div", { class: "buttons" }, button), status);
}
