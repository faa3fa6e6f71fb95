/* 报表: 日报 / 周报 / 月报 / 专报 over GET /api/v1/reports/{daily,weekly,monthly,special}. The JSON report is drawn
   as tables and charts; the same endpoint gives the Excel and CSV files (format=xlsx|csv), and 打印 prints
   the page with the print stylesheet (A4, no navigation, no buttons). */

import { api, apiUrl, qs } from "./api.js";
import * as Charts from "./charts.js";
import { $, clear, el, message, show } from "./dom.js";
import { start } from "./header.js";
import { fmtTime, today } from "./time.js";
import { known, label, labels } from "./vocab.js";

const form = $("#report-form");
let areasLoaded = false;

function params() {
  const kind = form.kind.value;
  const base = { date: form.date.value };
  if (kind !== "special") return base;
  return { ...base, start: form.start.value, end: form.end.value, topic: form.topic.value.trim(),
    keyword: form.keyword.value.trim(), area: form.area.value };
}

function validate(kind, p) {
  if (!known("report_kinds", kind)) return "请选择报表类型";
  if (kind === "special") {
    if (!p.start || !p.end) return "专报请选择起始日期和截止日期";
    if (p.start > p.end) return "起始日期不能晚于截止日期";
  } else if (!p.date) {
    return "请选择日期";
  }
  return null;
}

async function loadAreas() {
  if (areasLoaded) return;
  areasLoaded = true;
  try {
    const data = await api("GET", "/kpi" + qs({ by: "area", period: "year", date: form.date.value || today() }));
    const select = form.area;
    const chosen = select.value;
    for (const row of (data && data.rows) || []) {
      const known = Array.from(select.options).find((o) => o.value === row.key);
      if (known) known.textContent = row.name; else select.append(el("option", { value: row.key }, row.name));
    }
    if (chosen) select.value = chosen;
  } catch (err) {
    areasLoaded = false;   // the plain 全省 choice still works; try again next time
  }
}

/** The report kinds and the topics (业务分类, chosen by name), named from the vocabulary. */
function fillKinds() {
  for (const [value, text] of Object.entries(labels("report_kinds"))) form.kind.append(el("option", { value }, text));
  for (const [value, text] of Object.entries(labels("topics"))) form.topic.append(el("option", { value }, text));
}

function syncKind() {
  const special = form.kind.value === "special";
  show($("#special-fields"), special);
  $("#date-field").querySelector("label").textContent = special ? "报告日期" : "日期";
  if (special) loadAreas();
}

// A section says how to show each value (``formats``: per column of a table, per row of figures):
// "int", "rate" (a fraction, as a percentage), "seconds" or "text"; without one, numbers stay numbers.
const NUMERIC = new Set(["int", "rate", "seconds"]);
function cellText(value, fmt) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value !== "number") return String(value);
  if (fmt === "rate") return `${(value * 100).toFixed(2)}%`;
  if (fmt === "seconds") return value.toFixed(1);
  return Number.isInteger(value) ? value.toLocaleString("zh-CN") : String(Math.round(value * 10000) / 10000);
}
const numeric = (section, i) => {
  const fmt = (section.formats || [])[i];
  if (fmt) return NUMERIC.has(fmt);
  const rows = section.rows || [];
  return rows.some((r) => typeof r[i] === "number") && rows.every((r) => r[i] === null || typeof r[i] === "number");
};

function table(section) {
  const formats = section.kind === "table" ? section.formats || [] : [];
  return el("div", { class: "table-wrap" }, el("table", { class: "report-table" },
    el("caption", { class: "sr-only" }, section.title),
    el("thead", {}, el("tr", {}, (section.columns || []).map((c, i) =>
      el("th", { scope: "col", class: numeric(section, i) ? "num" : null }, c)))),
    el("tbody", {}, (section.rows || []).length
      ? section.rows.map((row) => el("tr", {}, row.map((value, i) =>
        el("td", { class: numeric(section, i) ? "num" : null }, cellText(value, formats[i])))))
      : el("tr", {}, el("td", { colspan: Math.max(1, (section.columns || []).length), class: "empty" }, "暂无数据")))));
}

/** Key figures: rows of [name, value] as tiles, each value in its row's format. */
function figures(section) {
  const rows = section.rows || [];
  if (!rows.length || rows.some((r) => !Array.isArray(r) || r.length !== 2)) return table({ ...section, kind: "table", formats: [] });
  const formats = section.formats || [];
  return el("dl", { class: "report-figures" }, rows.map((r, i) => el("div", { class: "figure", "data-name": String(r[0]) },
    el("dt", { class: "figure-label" }, String(r[0])), el("dd", { class: "figure-value" }, cellText(r[1], formats[i])))));
}

function chart(spec, index) {
  const box = el("div", { class: "chart-box" });
  const wrap = el("figure", { class: "report-chart", "data-type": spec.type, "data-index": index },
    el("figcaption", {}, spec.title), box);
  const labels = spec.labels || [];
  const series = (spec.series || []).map((s) => ({ name: s.name, values: s.values || [] }));
  const first = series[0] || { values: [] };
  const items = labels.map((label, i) => ({ label, value: first.values[i] || 0 }));
  if (spec.type === "line") Charts.line(box, labels, series, { title: spec.title, legend: series.length > 1 });
  else if (spec.type === "donut") Charts.donut(box, items, { title: spec.title });
  else if (spec.type === "stacked") Charts.stacked(box, labels, series, { title: spec.title, labelWidth: 200 });
  else if (series.length > 1) Charts.columns(box, labels, series, { title: spec.title });
  else Charts.bars(box, items, { title: spec.title, labelWidth: 200 });
  return wrap;
}

function draw(kind, p, report) {
  $("#report-title").textContent = report.title || label("report_kinds", kind);
  const period = report.period || {};
  $("#report-period").textContent = period.label || (period.start ? `统计周期：${period.start} 至 ${period.end}` : "");
  const sections = clear($("#report-sections"));
  (report.sections || []).forEach((section, index) => {
    sections.append(el("section", { class: "report-section", "data-kind": section.kind, "data-index": index },
      el("h3", {}, section.title), section.kind === "figures" ? figures(section) : table(section)));
  });
  const charts = clear($("#report-charts"));
  (report.charts || []).forEach((spec, index) => charts.append(chart(spec, index)));
  const url = (format) => apiUrl(`/reports/${kind}` + qs({ ...p, format }));
  $("#r-xlsx").href = url("xlsx");
  $("#r-csv").href = url("csv");
  $("#report-foot").textContent = `生成时间：${fmtTime(new Date().toISOString())}`;
  show($("#report"), true);
}

async function run({ push = true } = {}) {
  const kind = form.kind.value;
  const p = params();
  const problem = validate(kind, p);
  if (problem) { message($("#report-msg"), problem, "error"); return; }
  const query = qs({ kind, ...p });
  if (push && location.search !== query) history.pushState(null, "", location.pathname + query);
  const button = $("#r-run");
  button.disabled = true;
  message($("#report-msg"), "正在生成报表…", "info");
  try {
    const report = await api("GET", `/reports/${kind}` + qs({ ...p, format: "json" }));
    draw(kind, p, report);
    message($("#report-msg"), "", "info");
  } catch (err) {
    message($("#report-msg"), err.message, "error");
  } finally {
    button.disabled = false;
  }
}

function fromUrl() {
  const s = new URLSearchParams(location.search);
  const kind = known("report_kinds", s.get("kind")) ? s.get("kind") : "monthly";
  form.kind.value = kind;
  for (const name of ["date", "start", "end", "keyword"]) form[name].value = s.get(name) || "";
  form.topic.value = known("topics", s.get("topic")) ? s.get("topic") : "";
  if (!form.date.value) form.date.value = today();
  const area = s.get("area") || "";
  if (area && !Array.from(form.area.options).some((o) => o.value === area)) form.area.append(el("option", { value: area }, area));
  form.area.value = area;
  syncKind();
  return s.has("kind");
}

form.kind.addEventListener("change", syncKind);
form.addEventListener("submit", (ev) => { ev.preventDefault(); run(); });
$("#r-print").addEventListener("click", () => window.print());
window.addEventListener("popstate", () => { if (fromUrl()) run({ push: false }); else show($("#report"), false); });

start(["supervisor", "admin"]).then(() => {
  fillKinds();
  if (fromUrl()) run({ push: false });
}).catch(() => {});
