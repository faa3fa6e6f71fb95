/* 智能回访: the supervisor's campaign page. The campaigns (GET /api/v1/campaigns) with their live progress, polled
   every few seconds: done / reached / pending, the verdict mix as a stacked bar (charts.js), 暂停 / 继续; a form that
   starts a campaign (name, simultaneous channels, attempts per citizen, calling window; the tickets listed, or every
   ticket in 待回访 now); and the items of the campaign opened, numbers masked by the API. Every string the user reads
   is in TEXT; states and outcomes are shown by the labels the API gives. */

import { api } from "./api.js";
import * as Charts from "./charts.js";
import { $, clear, el, message, show } from "./dom.js";
import { checkForm, MESSAGES } from "./forms.js";
import { start } from "./header.js";
import { fmtTime } from "./time.js";
import { label } from "./vocab.js";

export const TEXT = {
  newTitle: "发起智能回访",
  name: "任务名称", channels: "同时外呼线路数（上限）", attempts: "每位市民最多拨打次数",
  windowStart: "每日外呼开始时间", windowEnd: "每日外呼结束时间",
  numbers: "工单编号（可选）", numbersHint: "每行或用逗号分隔填写 14 位工单编号；不填则回访当前全部待回访工单",
  create: "发起回访", created: (name) => `已发起：${name}`, badNumbers: (bad) => `工单编号格式不正确：${bad.join("、")}`,
  listTitle: "回访任务", stamp: (at) => `更新于 ${fmtTime(at)}，每 ${POLL_MS / 1000} 秒刷新`, empty: "暂无回访任务。",
  pause: "暂停", resume: "继续", paused: (name) => `已暂停：${name}`, resumed: (name) => `已继续：${name}`,
  items: "查看明细", itemsTitle: (name) => `回访明细：${name}`,
  createdBy: (c) => `${c.created_by_name} 发起于 ${fmtTime(c.created_at)}`,
  window: (c) => `外呼时段 ${c.window_start}–${c.window_end}${c.in_window ? "（当前可外呼）" : "（当前不在外呼时段）"}`,
  limits: (c) => `同时外呼不超过 ${c.max_channels} 路，每人最多拨打 ${c.attempts} 次`,
  progress: (p) => `共 ${p.total} 件：已完成 ${p.done}，已接通 ${p.reached}，待呼叫 ${p.pending}，呼叫中 ${p.calling}`,
  others: (p) => `无人接听 ${p.no_answer}，拒绝回访 ${p.opted_out}，转人工复核 ${p.to_agent}，未解决 ${p.unsolved}`,
  mix: "回访结果", unverdicted: "尚无结果",
  columns: ["工单编号", "联系电话", "状态", "已拨次数", "呼叫结果", "回访结果", "更新时间"],
  itemStates: { pending: "待呼叫", calling: "呼叫中", done: "已完成", to_agent: "转人工复核", opted_out: "拒绝回访",
    no_answer: "无人接听", failed: "未能呼叫" },
  otherState: "其他",
  loadFailed: "回访任务加载失败：",
};
const POLL_MS = 3000;
const NUMBER = /^\d{14}$/;

let opened = null;   // the campaign whose items are shown

function mixChart(box, c) {
  const p = c.progress;
  const keys = ["satisfied", "basically_satisfied", "unsatisfied"];
  const tones = [Charts.GOOD, "#4c9aff", Charts.BAD, Charts.NEUTRAL];
  const rest = Math.max(0, p.total - p.satisfied - p.basically_satisfied - p.unsatisfied);
  const series = [...keys.map((k) => ({ name: label("satisfaction", k), values: [p[k]] })),
    { name: TEXT.unverdicted, values: [rest] }].map((s, i) => ({ ...s, tone: tones[i] }));
  Charts.stacked(box, [TEXT.mix], series, { title: `${c.name} ${TEXT.mix}`, width: 640, labelWidth: 80,
    note: () => `${p.done} / ${p.total}` });
}

function campaignCard(c) {
  const action = c.state === "running" ? "pause" : c.state === "paused" ? "resume" : null;
  const button = action ? el("button", { type: "button", class: "secondary", "data-do": action,
    onclick: () => toggle(c, action) }, TEXT[action]) : null;
  const box = el("div", { class: "chart-box campaign-mix" });
  const card = el("article", { class: "card campaign", "data-campaign": String(c.id), "data-state": c.state },
    el("div", { class: "q-head" }, el("h3", {}, c.name), el("span", { class: `badge ${c.state}` }, c.state_label)),
    el("p", { class: "hint" }, TEXT.createdBy(c)),
    el("p", { class: "hint" }, TEXT.window(c), "；", TEXT.limits(c)),
    el("p", { class: "campaign-progress", "data-total": String(c.progress.total), "data-done": String(c.progress.done),
      "data-reached": String(c.progress.reached), "data-pending": String(c.progress.pending) }, TEXT.progress(c.progress)),
    el("p", { class: "hint" }, TEXT.others(c.progress)),
    box,
    el("div", { class: "buttons" }, button,
      el("button", { type: "button", class: "secondary", "data-do": "items", onclick: () => openItems(c) }, TEXT.items)));
  mixChart(box, c);
  return card;
}

async function toggle(c, action) {
  try {
    const fresh = await api("POST", `/campaigns/${c.id}/${action}`);
    message($("#campaign-msg"), (action === "pause" ? TEXT.paused : TEXT.resumed)(fresh.name), "ok");
    await load();
  } catch (err) {
    message($("#campaign-msg"), err.message, "error");
  }
}

function itemRow(item) {
  const state = TEXT.itemStates[item.state] || TEXT.otherState;
  return el("tr", { "data-ticket": item.ticket_number, "data-state": item.state },
    el("td", {}, el("a", { href: `/search.html?number=${item.ticket_number}` }, item.ticket_number)),
    el("td", {}, item.caller_masked), el("td", {}, state), el("td", { class: "num" }, String(item.attempts)),
    el("td", {}, item.outcome_label || "—"), el("td", {}, item.verdict_label || "—"), el("td", {}, fmtTime(item.updated_at)));
}

async function openItems(c) {
  opened = c;
  $("#campaign-items-title").textContent = TEXT.itemsTitle(c.name);
  show($("#campaign-items-card"), true);
  await loadItems();
}

async function loadItems() {
  if (!opened) return;
  const table = $("#campaign-items");
  const body = await api("GET", `/campaigns/${opened.id}/items`);
  clear(table.querySelector("thead")).append(el("tr", {}, TEXT.columns.map((c) => el("th", { scope: "col" }, c))));
  clear(table.querySelector("tbody")).append(...body.items.map(itemRow));
}

async function load() {
  try {
    const body = await api("GET", "/campaigns");
    const list = clear($("#campaign-list"));
    list.append(...body.items.map(campaignCard));
    if (!body.items.length) list.append(el("p", { class: "empty" }, TEXT.empty));
    $("#campaign-stamp").textContent = TEXT.stamp(new Date().toISOString());
    if (opened) {
      opened = body.items.find((c) => c.id === opened.id) || opened;
      await loadItems();
    }
  } catch (err) {
    message($("#campaign-msg"), TEXT.loadFailed + err.message, "error");
  }
}

async function create(ev) {
  ev.preventDefault();
  const form = ev.target;
  const status = $("#campaign-form-msg");
  const problems = checkForm(form);
  if (problems.length) { message(status, MESSAGES.summary(problems.length), "error"); return; }
  const numbers = form.elements.ticket_numbers.value.split(/[\s,，、]+/).filter(Boolean);
  const bad = numbers.filter((n) => !NUMBER.test(n));
  if (bad.length) { message(status, TEXT.badNumbers(bad), "error"); return; }
  const submit = $("#campaign-create");
  submit.disabled = true;
  try {
    const made = await api("POST", "/campaigns", { name: form.elements.name.value.trim(), ticket_numbers: numbers.length ? numbers : null,
      max_channels: Number(form.elements.max_channels.value), attempts: Number(form.elements.attempts.value),
      window_start: form.elements.window_start.value, window_end: form.elements.window_end.value });
    message(status, TEXT.created(made.name), "ok");
    form.elements.name.value = "";
    form.elements.ticket_numbers.value = "";
    await load();
  } catch (err) {
    message(status, err.message, "error");   // the form keeps what was typed
  } finally {
    submit.disabled = false;
  }
}

const labels = { "c-name": TEXT.name, "c-channels": TEXT.channels, "c-attempts": TEXT.attempts, "c-start": TEXT.windowStart,
  "c-end": TEXT.windowEnd, "c-numbers": TEXT.numbers };
for (const [id, text] of Object.entries(labels)) {
  document.querySelector(`label[for=${id}]`).textContent = text;
  $(`#${id}`).dataset.label = text;
}
$("#c-numbers-hint").textContent = TEXT.numbersHint;
$("#campaign-new-title").textContent = TEXT.newTitle;
$("#campaign-create").textContent = TEXT.create;
$("#campaign-list-title").textContent = TEXT.listTitle;
$("#campaign-form").addEventListener("submit", create);

start(["supervisor"]).then(() => {
  load();
  setInterval(load, POLL_MS);
}).catch(() => {});
