/* 观管评: the supervisors' big-screen views over GET /api/views/{overview,process,evaluation}.
   观 (overview): volumes, headline rates, trend, appeal types, channels, lines, areas, hot topics.
   管 (process): ticket states, overdue / due soon, returns, supervision, units' workload, overdue tickets.
   评 (evaluation): the assessment rates of units or areas, ranked.
   State (view, period, date, evaluation target, drill-down trail, 大屏 mode) lives in the URL, so a big screen
   can be bookmarked and the browser's back button walks back up; the data refreshes every 60 s.
   大屏 mode (?wall=1, wall.css): each view fits one 1920×1080 screen without scrolling, the charts are drawn at
   the size they are shown (type readable from across the room), the 观 map of the 19 市县 is the centre. */

import { api, qs } from "./api.js";
import * as Charts from "./charts.js";
import * as HainanMap from "./map.js";
import { $, clear, dash, el, message, show } from "./dom.js";
import { start } from "./header.js";
import { clockTime, fmtTime, today } from "./time.js";
import { label, labels } from "./vocab.js";

const VIEWS = ["overview", "process", "evaluation"];
const PERIODS = ["day", "week", "month", "year"];
const REFRESH_MS = 60_000;
// The rates, [code, name] in the desk's order; aht (a duration, not a rate) is shown on its own, and the other
// durations ({seconds, n}: average wait, arrival to queue) are the wallboard's and the reports'.
const AHT = "aht";
const DURATIONS = new Set([AHT, "wait", "to_queue"]);
const rates = () => Object.entries(labels("metrics")).filter(([key]) => !DURATIONS.has(key));
const metricName = (key) => label("metrics", key);
const LOWER_IS_BETTER = new Set(["abandon"]);
const HEADLINE = ["response", "completion", "on_time", "satisfaction", "answer"];
const MAP_METRICS = ["accepted", "completion", "satisfaction"];
const WALL = new URLSearchParams(location.search).get("wall") === "1";
// What an empty widget says: why it is empty, not just 暂无数据 (the page's strings, in one place).
const TEXT = {
  noTickets: "本期尚无受理工单",
  noPhoneTickets: "本期尚无电话受理的工单",
  noOpen: "当前没有在办工单",
  noOverdue: "当前没有超期工单",
  noRows: "本期尚无工单",
  // per ranked metric: the reason no unit or area has a rate (its denominator is 0 everywhere)
  noRate: {
    response: "本期尚无派单的工单，无从计算响应率",
    completion: "本期尚无应计办结率的工单（不予受理的除外）",
    on_time: "本期尚无应办结的工单",
    callback: "本期尚无办结工单",
    satisfaction: "本期尚无回访评价：工单办结并回访后才有满意率",
    effective_satisfaction: "本期尚无参评的回访评价",
    resolution: "本期尚无参评的回访评价",
  },
  belowMin: (min, who) => `各${who}工单量均不足 ${min} 件（参与排名最低工单量），暂不排名`,
  unknownArea: (n) => `另有 ${n} 件未能归入市县（未知区域）`,
  mapTitle: (name) => `海南省市县${name}分布（示意图）`,
  wallOn: "大屏模式",
  wallOff: "退出大屏",
};

// ── formatting ────────────────────────────────────────────────────────────
const isRate = (rate) => typeof rate === "number" && Number.isFinite(rate);
const pct = (rate) => (isRate(rate) ? `${(rate * 100).toFixed(1)}%` : "—");
const count = (n) => (typeof n === "number" && Number.isFinite(n) ? n.toLocaleString("zh-CN") : "—");
function duration(seconds) {
  if (!isRate(seconds)) return "—";
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}分${String(s % 60).padStart(2, "0")}秒` : `${s}秒`;
}
// ── state in the URL ──────────────────────────────────────────────────────
function readState() {
  const p = new URLSearchParams(location.search);
  let trail = [];
  try {
    const parsed = JSON.parse(p.get("trail") || "[]");
    if (Array.isArray(parsed)) trail = parsed.filter((c) => c && typeof c.key === "string").map((c) => ({
      key: c.key, name: typeof c.name === "string" ? c.name : c.key }));
  } catch (err) { trail = []; }
  const date = p.get("date") || "";
  return {
    view: VIEWS.includes(p.get("view")) ? p.get("view") : "overview",
    period: PERIODS.includes(p.get("period")) ? p.get("period") : "month",
    date: /^\d{4}-\d{2}-\d{2}$/.test(date) ? date : today(),
    by: p.get("by") === "area" ? "area" : "unit",
    metric: rates().some(([key]) => key === p.get("metric")) ? p.get("metric") : "satisfaction",
    min: /^\d{1,7}$/.test(p.get("min") || "") ? p.get("min") : "10",
    map: MAP_METRICS.includes(p.get("map")) ? p.get("map") : "accepted",
    trail,
  };
}
let state = null;   // read from the URL once the vocabulary is there

function urlOf(s) {
  return location.pathname + qs({ view: s.view, period: s.period, date: s.date,
    by: s.view === "evaluation" ? s.by : "", metric: s.view === "evaluation" ? s.metric : "",
    min: s.view === "evaluation" && s.min !== "10" ? s.min : "",
    map: s.view === "overview" && s.map !== "accepted" ? s.map : "", wall: WALL ? "1" : "",
    parent: s.trail.length ? s.trail[s.trail.length - 1].key : "",
    trail: s.trail.length ? JSON.stringify(s.trail) : "" });
}
function go(changes, { replace = false } = {}) {
  state = { ...state, ...changes };
  const url = urlOf(state);
  if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  render();
}
const parent = () => (state.trail.length ? state.trail[state.trail.length - 1].key : "");

// ── the trend's buckets still to come ─────────────────────────────────────
const ZONE = "Asia/Shanghai";
const dayNumber = (iso) => Math.round(Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)) / 86_400_000);
/** The index of the first bucket of the trend that lies in the future (n when none does): it is not drawn,
    so a day still to come never shows as 0. Buckets are hours (a day), days, or months (as the API's). */
export function firstFuture(period, n, now = new Date()) {
  if (!period || !period.start || !period.end) return n;
  const day = today();
  if (period.end < day) return n;
  if (period.start > day) return 0;
  if (period.kind === "day") {
    const hour = Number(new Intl.DateTimeFormat("en-GB", { timeZone: ZONE, hour: "2-digit", hourCycle: "h23" }).format(now));
    return Math.min(n, hour + 1);
  }
  const days = dayNumber(period.end) - dayNumber(period.start) + 1;
  if (n === days) return Math.min(n, dayNumber(day) - dayNumber(period.start) + 1);
  const months = (+day.slice(0, 4) - +period.start.slice(0, 4)) * 12 + (+day.slice(5, 7) - +period.start.slice(5, 7));
  return Math.min(n, months + 1);
}
const upTo = (values, cut) => (values || []).map((v, i) => (i < cut ? v : null));

// ── building blocks ───────────────────────────────────────────────────────
function figure(key, name, value, note) {
  return el("div", { class: "figure", "data-key": key },
    el("span", { class: "figure-value" }, value), el("span", { class: "figure-label" }, name),
    note ? el("span", { class: "figure-note" }, note) : null);
}

function gauge(key, metric) {
  const box = el("div", { class: "gauge-box", "data-metric": key });
  const chart = el("div", { class: "chart-box" });
  const rate = metric ? metric.rate : null;
  box.append(chart, el("div", { class: "gauge-caption" },
    el("span", { class: "gauge-ratio hint", title: "分子 / 分母" }, metric ? `${count(metric.num)} / ${count(metric.den)}` : "—")));
  const opts = { label: metricName(key), title: `${metricName(key)} ${pct(rate)}` };
  if (LOWER_IS_BETTER.has(key) && isRate(rate)) opts.tone = rate <= 0.1 ? Charts.GOOD : Charts.BAD;
  Charts.gauge(chart, isRate(rate) ? rate : NaN, opts);
  return box;
}

function gauges(container, metrics, keys) {
  clear(container);
  for (const key of keys) {
    if (metrics && metrics[key] !== undefined) container.append(gauge(key, metrics[key]));
  }
  if (metrics && metrics.aht) {
    container.append(el("div", { class: "gauge-box aht", "data-metric": AHT },
      el("span", { class: "figure-value" }, duration(metrics.aht.seconds)),
      el("span", { class: "figure-label" }, metricName(AHT)),
      el("span", { class: "gauge-ratio hint" }, `${count(metrics.aht.n)} 通`)));
  }
}

/** A bar chart whose bars drill down (the table next to it carries the same links for the keyboard). */
function drillBars(container, items, opts) {
  const root = Charts.bars(container, items.map((i) => ({ label: i.name, value: i.value, note: i.note })),
    { fit: true, ...opts });
  root.querySelectorAll("rect").forEach((rect, index) => {
    const item = items[index];
    if (item && item.has_children) {
      rect.classList.add("clickable");
      rect.addEventListener("click", () => drill(item.key, item.name));
    }
  });
  return root;
}

function nameCell(row) {
  if (!row.has_children) return el("td", {}, row.name);
  return el("td", {}, el("button", { type: "button", class: "link", "data-key": row.key,
    "aria-label": `下钻：${row.name}`, onclick: () => drill(row.key, row.name) }, row.name));
}

function metricCell(metric) {
  if (!metric) return el("td", { class: "num" }, "—");
  return el("td", { class: "num", title: `${count(metric.num)} / ${count(metric.den)}` }, pct(metric.rate));
}

function emptyRow(tbody, columns, text) {
  tbody.append(el("tr", {}, el("td", { colspan: columns, class: "empty" }, text)));
}

function drill(key, name) {
  go({ trail: [...state.trail, { key, name }] });
}

function crumbs() {
  const list = clear($("#crumbs"));
  const all = [{ key: "", name: "全省" }, ...state.trail];
  all.forEach((crumb, index) => {
    const last = index === all.length - 1;
    list.append(el("li", { "data-key": crumb.key }, index ? el("span", { class: "sep", "aria-hidden": "true" }, "›") : null, last
      ? el("span", { "aria-current": "location" }, crumb.name)
      : el("a", { href: urlOf({ ...state, trail: state.trail.slice(0, index) }), onclick: (ev) => {
        ev.preventDefault();
        go({ trail: state.trail.slice(0, index) });
      } }, crumb.name)));
  });
}

// ── the three views ───────────────────────────────────────────────────────
function renderOverview(data) {
  const t = data.totals || {};
  const m = t.metrics || {};
  clear($("#ov-figures")).append(
    ...["accepted", "direct", "dispatched", "refused", "offered"].map((key) => figure(key, label("counts", key), count(t[key]))));
  gauges($("#ov-gauges"), m, HEADLINE);
  const trend = data.trend || { labels: [] };
  const labelsOf = trend.labels || [];
  const cut = firstFuture(data.period, labelsOf.length);
  Charts.line($("#ov-trend"), labelsOf, [
    { name: label("counts", "accepted"), values: upTo(trend.accepted, cut) },
    { name: label("counts", "offered"), values: upTo(trend.offered, cut) },
    { name: "接通量", values: upTo(trend.answered, cut) },
  ], { title: "受理与来电趋势", legend: true, width: 1200, height: 260, integer: true, fit: true });
  const items = (list) => (list || []).map((i) => ({ label: i.name, value: i.value }));
  Charts.donut($("#ov-appeal"), items(data.by_appeal_type), { title: "诉求类型", empty: TEXT.noTickets });
  Charts.donut($("#ov-channel"), items(data.by_channel), { title: "受理渠道", empty: TEXT.noTickets });
  const areas = data.by_area || [];
  drillBars($("#ov-area"), areas, { title: "区域分布", labelWidth: 140, empty: TEXT.noTickets });
  const body = clear($("#ov-area-table tbody"));
  for (const area of areas) {
    body.append(el("tr", { "data-key": area.key }, nameCell(area), el("td", { class: "num" }, count(area.value))));
  }
  if (!areas.length) emptyRow(body, 2, TEXT.noTickets);
  // On a wall the narrow card names a line by its number (what people call it); the name is in its tooltip.
  Charts.bars($("#ov-line"), (data.by_line || []).map((i) => ({ label: WALL && i.key ? i.key : i.name, value: i.value,
    note: typeof i.offered === "number" && i.offered ? `（来电 ${count(i.offered)}）` : "" })),
  { title: "热线分布（电话受理）", labelWidth: 200, fit: true, empty: TEXT.noPhoneTickets });
  Charts.bars($("#ov-topics"), items(data.top_topics), { title: "热点事项", labelWidth: 180, fit: true, empty: TEXT.noTickets });
  renderMap();
}

// ── the map of the 19 市县 (its figures from GET /kpi?by=area: the same area grouping as 区域分布) ──────
let mapRows = null;     // the top-level area rows of the period last loaded
async function loadMap(params) {
  try {
    const data = await api("GET", "/kpi" + qs({ by: "area", period: params.period, date: params.date, min_volume: 0 }));
    mapRows = data.rows || [];
  } catch (err) {
    mapRows = null;
    $("#ov-map-note").textContent = err.message;
  }
}

function renderMap() {
  const box = $("#ov-map");
  if (!mapRows) { clear(box); return; }
  const metric = state.map;
  const values = new Map();
  let unknown = 0;
  for (const row of mapRows) {
    if (!row.key) { unknown += row.accepted || 0; continue; }
    const rate = metric === "accepted" ? null : row.metrics && row.metrics[metric];
    const value = metric === "accepted" ? row.accepted : (rate && isRate(rate.rate) ? rate.rate : null);
    const text = metric === "accepted" ? count(row.accepted) : pct(value);
    values.set(row.key, { value, text, name: row.name,
      title: `${label("counts", "accepted")} ${count(row.accepted)}` +
        (metric === "accepted" ? "" : `，${metricName(metric)} ${text}`) });
  }
  const name = metric === "accepted" ? label("counts", "accepted") : metricName(metric);
  const selected = state.trail.length ? state.trail[0].key : null;
  HainanMap.draw(box, values, { title: TEXT.mapTitle(name), fit: WALL, selected,
    legend: metric === "accepted" ? ["少", "多"] : ["低", "高"],
    onSelect: (code, cityName) => go({ trail: [{ key: code, name: cityName }] }) });
  $("#ov-map-note").textContent = unknown ? TEXT.unknownArea(count(unknown)) : "";
}

function renderProcess(data) {
  clear($("#pr-figures")).append(
    figure("open", "在办工单", count(data.open)),
    figure("overdue", "超期工单", count(data.overdue)),
    figure("due_soon", "临期工单", count(data.due_soon)),
    figure("returns", "退单", count(data.returns)),
    figure("supervisions", "督办", count(data.supervisions)));
  Charts.donut($("#pr-state"), (data.by_state || []).map((s, i) => ({
    label: s.name || label("ticket_states", s.key), value: s.value, tone: Charts.stateTone("ticket", s.key, i) })),
  { title: "工单状态", empty: TEXT.noOpen });
  Charts.bars($("#pr-level"), (data.by_level || []).map((l) => ({
    label: l.name || label("rings", l.key), value: l.value })), { title: "处理层级", labelWidth: 120, fit: true });
  const units = clear($("#pr-units tbody"));
  for (const unit of data.by_unit || []) {
    units.append(el("tr", { "data-key": unit.key, class: unit.overdue ? "overdue" : null }, nameCell(unit),
      el("td", { class: "num" }, count(unit.open)), el("td", { class: "num" }, count(unit.overdue)),
      el("td", { class: "num" }, count(unit.returns))));
  }
  if (!(data.by_unit || []).length) emptyRow(units, 4, TEXT.noOpen);
  const overdue = clear($("#pr-overdue tbody"));
  for (const t of data.overdue_tickets || []) {
    overdue.append(el("tr", { "data-number": t.number },
      el("td", {}, el("a", { href: "/search.html" + qs({ number: t.number }) }, t.number)),
      el("td", {}, t.title), el("td", {}, dash(t.unit)), el("td", {}, fmtTime(t.due_at))));
  }
  if (!(data.overdue_tickets || []).length) emptyRow(overdue, 4, TEXT.noOverdue);
}

function renderEvaluation(data) {
  const m = (data.totals && data.totals.metrics) || {};
  gauges($("#ev-gauges"), m, rates().map(([key]) => key));
  const rankings = data.rankings || {};
  const select = $("#eval-metric");
  const available = rates().filter(([key]) => key in rankings);
  if (available.length && !(state.metric in rankings)) state = { ...state, metric: available[0][0] };
  clear(select).append(...available.map(([key, name]) => el("option", { value: key, selected: key === state.metric }, name)));
  const ranked = (rankings[state.metric] || []);
  $("#ev-ranking-title").textContent = `${metricName(state.metric)}排名`;
  const rows = data.rows || [];
  const rated = rows.some((r) => r.metrics && r.metrics[state.metric] && r.metrics[state.metric].den > 0);
  const empty = !rows.length ? TEXT.noRows : !rated ? (TEXT.noRate[state.metric] || TEXT.noRows)
    : TEXT.belowMin(state.min, label("group_by", state.by));
  Charts.bars($("#ev-ranking"), ranked.filter((r) => isRate(r.rate)).map((r) => ({
    label: `${r.rank}. ${r.name}`, value: r.rate * 100, note: `(${count(r.num)}/${count(r.den)})`,
  })), { title: `${metricName(state.metric)}排名`, max: 100, labelWidth: 240, width: 1100, fit: true, empty,
    format: (v) => `${v.toFixed(1)}%` });
  // Call-center rates do not apply to units and areas (null there): only columns some row has.
  const keys = rates().filter(([key]) => rows.some((r) => r.metrics && r.metrics[key]));
  const table = $("#ev-rows");
  clear(table.querySelector("thead")).append(el("tr", {},
    el("th", { scope: "col", class: "num" }, "排名"), el("th", { scope: "col" }, label("group_by", state.by)),
    el("th", { scope: "col", class: "num" }, "工单量"),
    keys.map(([key, name]) => el("th", { scope: "col", class: "num", "data-metric": key }, name)),
    rows.some((r) => r.metrics && r.metrics.aht) ? el("th", { scope: "col", class: "num" }, metricName(AHT)) : null));
  const body = clear(table.querySelector("tbody"));
  const withAht = rows.some((r) => r.metrics && r.metrics.aht);
  for (const row of rows) {
    const metrics = row.metrics || {};
    body.append(el("tr", { "data-key": row.key },
      el("td", { class: "num" }, dash(row.rank)), nameCell(row), el("td", { class: "num" }, count(row.volume)),
      keys.map(([key]) => { const cell = metricCell(metrics[key]); cell.dataset.metric = key; return cell; }),
      withAht ? el("td", { class: "num" }, duration(metrics.aht && metrics.aht.seconds)) : null));
  }
  if (!rows.length) emptyRow(body, 3 + keys.length, TEXT.noRows);
}

const RENDER = { overview: renderOverview, process: renderProcess, evaluation: renderEvaluation };

// ── loading ───────────────────────────────────────────────────────────────
// The next refresh comes 60 s after the last load, whatever started it (a click, a period, the timer).
let timer = null;
function scheduleRefresh() {
  clearTimeout(timer);
  timer = setTimeout(() => (document.hidden ? scheduleRefresh() : load()), REFRESH_MS);
}

let sequence = 0;
let last = null;   // what was drawn last: a wall screen redraws it at its new size when the window changes
async function load() {
  const mine = ++sequence;
  scheduleRefresh();
  const view = state.view;
  const params = { period: state.period, date: state.date, parent: parent(), by: view === "evaluation" ? state.by : "",
    min_volume: view === "evaluation" ? state.min : "" };
  $("#views-body").setAttribute("aria-busy", "true");
  try {
    const [data] = await Promise.all([api("GET", `/views/${view}` + qs(params)),
      view === "overview" ? loadMap(params) : null]);
    if (mine !== sequence) return;   // a newer request (another tab, period, level) has been made meanwhile
    last = { view, data };
    RENDER[view](data);
    const period = data.period || {};
    $("#period-label").textContent = period.label || (period.start ? `${period.start} 至 ${period.end}` : "");
    $("#updated").textContent = `更新于 ${clockTime(new Date())}，每 60 秒自动刷新`;
    $(`#view-${view}`).dataset.loaded = urlOf(state);
    message($("#views-msg"), "", "info");
  } catch (err) {
    if (mine !== sequence) return;
    message($("#views-msg"), err.message, "error");
  } finally {
    if (mine === sequence) $("#views-body").removeAttribute("aria-busy");
  }
}

function render() {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const selected = tab.dataset.view === state.view;
    tab.setAttribute("aria-selected", selected ? "true" : "false");
    tab.tabIndex = selected ? 0 : -1;
  }
  for (const view of VIEWS) show($(`#view-${view}`), view === state.view);
  const form = $("#period-form");
  form.querySelector(`input[name=period][value=${state.period}]`).checked = true;
  form.date.value = state.date;
  document.querySelector(`input[name=by][value=${state.by}]`).checked = true;
  $("#eval-min").value = state.min;
  $("#map-metric").value = state.map;
  // The same screen in (or out of) 大屏 mode: a full load, since the layout is chosen when the page starts.
  const other = new URL(urlOf(state), location.origin);
  if (WALL) other.searchParams.delete("wall"); else other.searchParams.set("wall", "1");
  $("#wall-toggle").href = other.pathname + other.search;
  crumbs();
  load();
}

// ── controls ──────────────────────────────────────────────────────────────
const tabs = Array.from(document.querySelectorAll("[role=tab]"));
tabs.forEach((tab, index) => {
  tab.addEventListener("click", () => { if (tab.dataset.view !== state.view) go({ view: tab.dataset.view }); });
  tab.addEventListener("keydown", (ev) => {
    const step = ev.key === "ArrowRight" ? 1 : ev.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    ev.preventDefault();
    const next = tabs[(index + step + tabs.length) % tabs.length];
    next.focus();
    go({ view: next.dataset.view });
  });
});
$("#period-form").addEventListener("change", (ev) => {
  if (ev.target.name === "period") go({ period: ev.target.value });
  else if (ev.target.name === "date" && /^\d{4}-\d{2}-\d{2}$/.test(ev.target.value)) go({ date: ev.target.value });
});
$("#period-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const date = $("#period-date").value;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) { message($("#views-msg"), "请选择日期", "error"); return; }
  if (date !== state.date) go({ date }); else load();
});
for (const radio of document.querySelectorAll("input[name=by]")) {
  // Units and areas are two different trees: switching starts again from the top.
  radio.addEventListener("change", () => go({ by: radio.value, trail: [] }));
}
$("#eval-min").addEventListener("change", (ev) => {
  const value = ev.target.value.trim();
  if (/^\d{1,7}$/.test(value)) go({ min: String(Number(value)) }, { replace: true });
});
$("#eval-metric").addEventListener("change", (ev) => go({ metric: ev.target.value }, { replace: true }));
$("#map-metric").addEventListener("change", (ev) => {
  if (MAP_METRICS.includes(ev.target.value)) {
    state = { ...state, map: ev.target.value };
    history.replaceState(null, "", urlOf(state));
    renderMap();
  }
});
let resizing = null;
window.addEventListener("resize", () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => { if (last && last.view === state.view) RENDER[last.view](last.data); }, 150);
});
if (WALL) {
  document.documentElement.classList.add("wall");
  document.body.classList.add("wall");
}
window.addEventListener("popstate", () => { state = readState(); render(); });

start(["supervisor", "admin"]).then(() => {
  state = readState();
  $("#wall-toggle").textContent = WALL ? TEXT.wallOff : TEXT.wallOn;
  history.replaceState(null, "", urlOf(state));
  render();
}).catch(() => {});
