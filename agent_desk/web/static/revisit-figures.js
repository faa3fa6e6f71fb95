/* 回拨与回访 on the 评 (evaluation) view: the period's callback coverage of missed calls, 回访率 and the verdict mix
   by unit (GET /api/v1/revisits/figures) as figures and a stacked bar per unit (charts.js). It follows the view's
   period: views.js marks each load on #view-evaluation (data-loaded = the view's address), and this card loads
   the same period then. Every string the user reads is in TEXT. */

import { api, qs } from "./api.js";
import * as Charts from "./charts.js";
import { $, clear, el, message } from "./dom.js";
import { label } from "./vocab.js";

export const TEXT = {
  title: "回拨与回访",
  chart: "回访结果（按承办单位）",
  coverage: (c) => `未接来电回拨率（${c.target_minutes}分钟内）`,
  coverageCount: (c) => `${c.contacted_within_target} / ${c.tasks}`,
  revisitRate: "回访率",
  revisitCount: (t) => `${t.verdicts} / ${t.reached}`,
  satisfaction: "回访满意率",
  solved: "已解决 / 未解决",
  note: (u) => `回访率 ${pct(u.rate)}（${u.verdicts}/${u.reached}）`,
  unverdicted: "未回访",
  empty: "本周期没有进入待回访的工单",
  failed: "回拨与回访数据加载失败：",
};
const pct = (rate) => (rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`);
// The verdicts named from the vocabulary (满意 / 基本满意 / 不满意), then the tickets not called back yet.
const SERIES = ["satisfied", "basically_satisfied", "unsatisfied", "unverdicted"];
const TONES = { satisfied: Charts.GOOD, basically_satisfied: "#4c9aff", unsatisfied: Charts.BAD, unverdicted: Charts.NEUTRAL };

const view = $("#view-evaluation");

function figure(name, value, detail, key) {
  return el("div", { class: "figure", "data-name": key },
    el("dt", { class: "figure-label" }, name), el("dd", { class: "figure-value" }, value, detail ? el("small", {}, ` ${detail}`) : null));
}

async function load(address) {
  const params = new URLSearchParams(address.split("?")[1] || "");
  const msg = $("#rv-msg");
  try {
    const data = await api("GET", "/revisits/figures" + qs({ period: params.get("period") || "month", date: params.get("date") }));
    const c = data.coverage, t = data.total;
    clear($("#rv-figures")).append(
      figure(TEXT.coverage(c), pct(c.rate), TEXT.coverageCount(c), "coverage"),
      figure(TEXT.revisitRate, pct(t.rate), TEXT.revisitCount(t), "revisit_rate"),
      figure(TEXT.satisfaction, pct(t.satisfaction), null, "satisfaction"),
      figure(TEXT.solved, `${t.solved} / ${t.unsolved}`, null, "solved"));
    const units = data.units;
    Charts.stacked($("#rv-units"), units.map((u) => u.name),
      SERIES.map((key) => ({ name: key === "unverdicted" ? TEXT.unverdicted : label("satisfaction", key), tone: TONES[key],
        values: units.map((u) => u[key]) })),
      { title: TEXT.chart, note: (i) => TEXT.note(units[i]), empty: TEXT.empty, width: 1100, labelWidth: 240 });
    message(msg, "", "info");
  } catch (err) {
    message(msg, TEXT.failed + err.message, "error");
  }
}

$("#rv-title").textContent = TEXT.title;
let shown = null;
new MutationObserver(() => {
  const address = view.dataset.loaded;
  if (address && address !== shown) { shown = address; load(address); }
}).observe(view, { attributes: true, attributeFilter: ["data-loaded"] });
if (view.dataset.loaded) { shown = view.dataset.loaded; load(shown); }
