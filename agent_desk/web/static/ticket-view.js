/* A ticket as read: its state badges, its facts and its history (办理记录), every code named from the
   vocabulary. */

import { el } from "./dom.js";
import { fmtTime } from "./time.js";
import { known, label } from "./vocab.js";

export function stateBadge(ticket) {
  return el("span", { class: "badge state", "data-state": ticket.state }, ticket.state_label || label("ticket_states", ticket.state));
}

export function overdueBadge(ticket) {
  return ticket.overdue ? el("span", { class: "badge overdue", title: "已超过办理时限" }, "超期") : null;
}

// Which vocabulary names the value of a history entry's field.
const VALUE_VOCAB = { result: "satisfaction", reason: "refusal_reasons", category: "exclusions", to: "levels",
  appeal_type: "appeal_types", urgency: "urgency", channel: "channels" };

function shownValue(key, value) {
  const vocab = VALUE_VOCAB[key];
  if (vocab && typeof value === "string" && known(vocab, value)) return label(vocab, value);
  if (key === "due_at") return fmtTime(value);
  if (typeof value === "boolean") return value ? "是" : "否";
  if (Array.isArray(value)) return value.join("、");
  if (typeof value === "object") return JSON.stringify(value);
  return value;
}

/** "主办单位：…；理由：…" of a history entry's data. */
export function summariseData(data) {
  if (!data || typeof data !== "object") return "";
  const parts = [];
  for (const [key, value] of Object.entries(data)) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) continue;
    parts.push(`${label("event_fields", key)}：${shownValue(key, value)}`);
  }
  return parts.join("；");
}

function stateChange(event) {
  if (!event.to_state) return "";   // a 回拨 call changes no state
  const to = label("ticket_states", event.to_state);
  return event.from_state ? `${label("ticket_states", event.from_state)} → ${to}` : to;
}

export function historyTable(history) {
  if (!history || !history.length) return el("p", { class: "empty" }, "暂无办理记录");
  return el("div", { class: "table-wrap" }, el("table", { class: "history" },
    el("caption", { class: "sr-only" }, "办理记录"),
    el("thead", {}, el("tr", {}, ["时间", "操作", "办理人", "状态变化", "说明"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, history.map((event) => el("tr", { "data-action": event.action },
      el("td", {}, fmtTime(event.at)),
      el("td", {}, event.action_label || label("actions", event.action)),
      el("td", {}, event.actor_name || event.actor),
      el("td", {}, stateChange(event)),
      el("td", {}, event.text !== undefined ? event.text : summariseData(event.data)))))));
}

/** 并单: "已并入 N" on a merged ticket, "并单：M1、M2" on its host (null when neither). */
export function mergeLinks(ticket) {
  if (ticket.merged_into) return `已并入 ${ticket.merged_into}（随主工单办理）`;
  if (ticket.merged_tickets && ticket.merged_tickets.length) return `并单：${ticket.merged_tickets.join("、")}`;
  return null;
}

// ── 答复 and 退单 in the facts (not only in the history), long text collapsed ───────────────────────────────
const LONG = { chars: 240, lines: 6 };   // more than this is collapsed behind 展开, so the actions stay in sight
const LONG_FIELDS = new Set(["诉求内容", "诉求", "最终处理意见", "答复内容", "退单理由", "法律法规依据"]);

/** ``text`` as a block; a long one collapsed to a few lines with 展开 / 收起. */
export function longText(text) {
  const body = el("div", { class: "long-text" }, text);
  if ([...text].length <= LONG.chars && text.split("\n").length <= LONG.lines) return body;
  const wrap = el("div", { class: "long collapsed" }, body);
  const toggle = el("button", { type: "button", class: "link more", "aria-expanded": "false" }, "展开");
  toggle.addEventListener("click", () => {
    const open = wrap.classList.toggle("collapsed") === false;
    toggle.textContent = open ? "收起" : "展开";
    toggle.setAttribute("aria-expanded", String(open));
  });
  wrap.append(toggle);
  return wrap;
}

const latest = (history, actions) => [...(history || [])].reverse().find((e) => actions.includes(e.action));

/** The latest answer (答复, 直接办结, the host's reply) and 退单 request with its outcome, as fact rows. */
function answerAndReturn(history) {
  const answer = latest(history, ["reply", "resolve_directly", "host_reply"]);
  const request = latest(history, ["request_return"]);
  const decided = request && latest(history.filter((e) => e.seq > request.seq), ["approve_return", "reject_return"]);
  const outcome = !request ? null : !decided ? "待平台审核"
    : decided.action === "approve_return" ? `已同意（${fmtTime(decided.at)}）`
      : `已驳回（${fmtTime(decided.at)}）${decided.data && decided.data.reason ? "：" + decided.data.reason : ""}`;
  return [
    ["答复内容", answer ? answer.data.content || answer.data.answer : null],
    ["答复时间", answer ? fmtTime(answer.at) : null],
    ["退单理由", request ? request.data.reason : null],
    [label("event_fields", "legal_basis"), request ? request.data.legal_basis : null],
    ["退单审核", outcome],
  ];
}

/** The district or town the agent picked under the city (区 / 镇), by name; none when the place is the city itself. */
const townOf = (ticket) => (ticket.location_unit && ticket.location_unit !== ticket.subplatform
  ? ticket.location_unit_name : null);

const yesNo = (value) => (value === undefined || value === null ? null : (value ? "是" : "否"));

/** The ticket's facts as a description list; the contact marked when masked. */
export function ticketFacts(ticket) {
  const host = ticket.host_unit_name || ticket.host_unit;   // people read names; codes are the API's
  const rows = [
    ["工单编号", ticket.number], ["状态", null], ["诉求类型", ticket.appeal_label || label("appeal_types", ticket.appeal_type)],
    ["渠道", ticket.channel_label || label("channels", ticket.channel)],
    ["来源热线", ticket.source_line], ["标题", ticket.title],
    ["市民姓名", ticket.citizen_name], ["联系电话", ticket.citizen_phone],
    ["所属市县", ticket.subplatform_name], ["所在区镇", townOf(ticket)],
    ["发生时间", ticket.occurred], ["地点", ticket.location], ["诉求内容", ticket.content], ["诉求", ticket.demand],
    ["业务分类", ticket.topic_name || label("topics", ticket.topic)], ["紧急程度", label("urgency", ticket.urgency)],
    ["保密", yesNo(ticket.confidential)],
    ["主办单位", host], ["协办单位", (ticket.co_unit_names || ticket.co_units || []).join("、")], ["受理时间", fmtTime(ticket.created_at)],
    ["办理时限", ticket.due_at ? fmtTime(ticket.due_at) : null], ["处理层级", label("levels", ticket.level)],
    ["回访结果", label("satisfaction", ticket.satisfaction)],
    ["不予受理原因", label("refusal_reasons", ticket.refusal)], ["最终处理意见", ticket.final_opinion],
    ...answerAndReturn(ticket.history),
    ["督办次数", ticket.supervisions || null], ["退单次数", ticket.returns || null],
    ["并单", mergeLinks(ticket)],
  ];
  const dl = el("dl", { class: "kv" });
  for (const [name, value] of rows) {
    if (name === "状态") {
      dl.append(el("dt", {}, name), el("dd", { class: "state-cell" }, stateBadge(ticket), " ", overdueBadge(ticket)));
      continue;
    }
    if (value === null || value === undefined || value === "") continue;
    const dd = el("dd", {}, LONG_FIELDS.has(name) ? longText(String(value)) : String(value));
    if ((name === "市民姓名" || name === "联系电话") && ticket.contact_masked) dd.append(el("span", { class: "hint" }, "（已脱敏）"));
    dl.append(el("dt", {}, name), dd);
  }
  return dl;
}
