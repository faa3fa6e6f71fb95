/* 建议采纳率 on the 评 (evaluation) view: how often agents took the desk's topic and unit suggestions, per day
   or week (GET /api/v1/suggestions/acceptance), drawn with the supervisors' chart helper (charts.js): the rates
   over time as lines, and the rate by suggested topic and by suggested unit as bars. Only 平台 (supervisor)
   users may read it; for other roles the card is removed. */

import { api, qs } from "./api.js";
import * as Charts from "./charts.js";
import { $, clear, message } from "./dom.js";

const TEXT = {
  trend: "建议采纳率趋势",
  topicTop1: "分类：采纳第一建议",
  topicTop3: "分类：采纳前三建议",
  unitTop1: "单位：采纳第一建议",
  byTopic: "按建议分类（第一建议采纳率）",
  byUnit: "按建议单位（第一建议采纳率）",
  decided: (n) => `${n} 件`,
  summary: (r) => `近 30 天：有建议记录的工单 ${r.tickets} 件；分类第一建议采纳率 ${pct(r.totals.topics.top1_rate)}，`
    + `前三 ${pct(r.totals.topics.top3_rate)}；单位第一建议采纳率 ${pct(r.totals.units.top1_rate)}；`
    + `保存后被改派的 ${r.changed_after_save} 件`,
};
const pct = (rate) => (rate === null || rate === undefined ? "—" : `${Math.round(rate * 1000) / 10}%`);
const TOP = 10;

const card = $("#ev-acceptance");

async function load() {
  const period = card.querySelector("input[name='acceptance-period']:checked").value;
  const status = $("#acc-msg");
  try {
    const report = await api("GET", "/suggestions/acceptance" + qs({ period }));
    message(status, TEXT.summary(report), "info");
    // Only days (weeks) with decisions: the chart helper would draw an empty day as 0 %, which it is not.
    const series = report.series.filter((b) => b.topics.decided || b.units.decided);
    const labels = series.map((b) => b.start.slice(5));
    Charts.line($("#acc-trend"), labels, [
      { name: TEXT.topicTop1, values: series.map((b) => b.topics.top1_rate) },
      { name: TEXT.topicTop3, values: series.map((b) => b.topics.top3_rate) },
      { name: TEXT.unitTop1, values: series.map((b) => b.units.top1_rate) },
    ], { title: TEXT.trend, max: 1, format: pct, legend: true });
    const items = (rows) => rows.slice(0, TOP).map((r) => ({ label: r.name, value: r.top1_rate || 0,
      note: TEXT.decided(r.decided) }));
    Charts.bars($("#acc-topics"), items(report.by_topic), { title: TEXT.byTopic, max: 1, format: pct });
    Charts.bars($("#acc-units"), items(report.by_unit), { title: TEXT.byUnit, max: 1, format: pct, labelWidth: 220 });
  } catch (err) {
    for (const id of ["#acc-trend", "#acc-topics", "#acc-units"]) clear($(id));
    message(status, err.message, "error");
  }
}

/** Supervisors only: for anyone else (an administrator on this page, a role the page turns away) the card goes. */
async function init() {
  let who = null;
  try {
    who = await api("GET", "/me", undefined, { redirectOn401: false });
  } catch (err) {
    who = null;   // not signed in: views.js sends the page to the login
  }
  if (!who || who.role !== "supervisor") {
    card.remove();
    return;
  }
  for (const radio of card.querySelectorAll("input[name='acceptance-period']")) radio.addEventListener("change", load);
  load();
}

if (card) init();
