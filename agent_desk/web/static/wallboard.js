/* 实时监控: the live wallboard over /ws/wallboard (snapshots from the desk's AMI listener, early-warning
   alerts). Waits and times in state tick here from the snapshot's timestamps, between snapshots. Today's
   GB/T 33358 figures (GET /wallboard/standard, from the call records like the reports) and the speech
   service's state (GET /wallboard/asr) and the recordings storage (GET /wallboard/recordings: 录音存储空间不足 /
   已满, beside the connection badge) are fetched every POLL_MS.
   大屏 mode (?wall=1, wall.css): the whole board on one 1920×1080 screen without scrolling, charts drawn at the
   size they are shown. Colours come from the one palette in charts.js (an agent state has the same colour in
   the donut and on the agents' cards, and on every page). */

import { api } from "./api.js";
import * as Charts from "./charts.js";
import { $, clear, el, message } from "./dom.js";
import { start } from "./header.js";
import { reconnecting } from "./socket.js";
import { fmtTime } from "./time.js";
import { label, labels } from "./vocab.js";

const WALL = new URLSearchParams(location.search).get("wall") === "1";
if (WALL) {
  document.documentElement.classList.add("wall");
  document.body.classList.add("wall");
}
const DISCONNECTED = "与电话系统的连接已断开，正在重连…";
const NODES_LEFT_OUT = "：其排队来电与坐席状态暂不计入，今天已发生的话务仍计入";   // after "n2 节点离线"
const people = new Map();   // extension → the agent's 姓名 (GET /users): the phone system knows only "agent-8001"
const POLL_MS = 10000;
// The standard figures in the order shown; their names come from the vocabulary (metrics).
const STANDARD = ["answer", "service_level", "wait", "to_queue", "prefill", "short_abandon", "abandon"];
const RATE_BARS = ["answer", "service_level", "prefill", "short_abandon"];
const ASR_TONES = { normal: "live", busy: "down", offline: "down", absent: "" };
const REC_TONES = { normal: "live", low: "down", full: "down", unknown: "" };

let snapshot = null;
let offset = 0;            // server clock − local clock, seconds
const alerts = new Map();  // id → alert

const nowServer = () => Date.now() / 1000 + offset;
function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(r)}` : `${two(m)}:${two(r)}`;
}
const percent = (ratio) => (ratio === null || ratio === undefined ? "—" : `${(ratio * 100).toFixed(1)}%`);
const waitOf = (row) => (row.oldest_since ? nowServer() - row.oldest_since : 0);

function setConnection(text, ok) {
  const badge = $("#wb-conn");
  badge.textContent = text;
  badge.className = "badge " + (ok ? "live" : "down");
}

// ── snapshot ────────────────────────────────────────────────────────────
function render(snap) {
  snapshot = snap;
  offset = snap.now - Date.now() / 1000;
  // A cluster's board lists its nodes (a single node's list is empty): an offline node is said at the top.
  const offline = (snap.nodes || []).filter((n) => !n.online);
  if (snap.connected) {
    setConnection("实时", true);
    const text = offline.map((n) => `${n.node} ${n.state_label}`).join("、");
    message($("#wb-msg"), text ? text + NODES_LEFT_OUT : "", text ? "error" : "info");
  } else {
    setConnection("已断开", false);
    message($("#wb-msg"), DISCONNECTED, "error");
  }
  const t = snap.totals;
  $("#t-waiting").textContent = String(t.waiting);
  // 排队中 and 最长等待 turn to an alert colour only when someone is waiting (0 waiting is good news, not red).
  $("[data-tile='waiting']").dataset.alert = t.waiting > 0 ? "bad" : "";
  $("[data-tile='longest']").dataset.alert = t.waiting > 0 ? "bad" : "";
  $("#t-answered").textContent = String(t.answered);
  $("#t-abandoned").textContent = String(t.abandoned);
  $("#t-sl").textContent = percent(t.service_level);
  $("#t-sl-note").textContent = `${snap.service_level_seconds}秒内接通`;
  $("#t-aht").textContent = duration(t.avg_handle_seconds);
  $("#wb-updated").textContent = `更新于 ${fmtTime(snap.generated_at)}（${snap.day}）`;
  table($("#wb-queues"), "队列", snap.queues.map((q) => ({ ...q, label: q.name || q.queue, online:
    Object.entries(q.agents || {}).filter(([s]) => s !== "logged_out").reduce((n, [, c]) => n + c, 0) })), true);
  table($("#wb-lines"), "热线号码", snap.lines.map((r) => ({ ...r, label: r.name ? `${r.line} ${r.name}` : r.line })));
  table($("#wb-subplatforms"), "分平台", snap.subplatforms.map((r) => ({ ...r, label: r.name || r.code })));
  Charts.bars($("#c-waiting"), snap.queues.map((q) => ({ label: q.name || q.queue, value: q.waiting,
    tone: q.waiting ? Charts.BAD : Charts.NEUTRAL })), { title: "各队列排队数", format: (n) => `${Math.round(n)}`,
    fit: true, empty: "暂无队列" });
  Charts.gauge($("#c-sl"), t.service_level === null ? NaN : t.service_level,
    { title: "今日服务水平", label: `${snap.service_level_seconds}秒内接通率`, good: 0.8 });
  Charts.donut($("#c-states"), Object.entries(labels("agent_states")).map(([s, name], i) => ({ label: name,
    value: snap.agent_states[s] || 0, tone: Charts.stateTone("agent", s, i) })),
  { title: "坐席状态分布", format: (n) => `${Math.round(n)}` });
  agentsGrid(snap.agents);
  tick();
}

function table(node, first, rows, withAgents) {
  clear(node);
  const heads = [first, "排队中", "最长等待", "今日接通", "今日放弃", "服务水平", "平均处理时长"];
  if (withAgents) heads.push("在线坐席");
  node.append(el("thead", {}, el("tr", {}, heads.map((h) => el("th", { scope: "col" }, h)))));
  const body = el("tbody", {});
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: heads.length, class: "empty" }, "今日暂无话务")));
  for (const r of rows) {
    body.append(el("tr", { "data-key": r.queue || r.line || r.code, class: r.waiting ? "wb-busy" : null },
      el("th", { scope: "row" }, r.label),
      el("td", { class: "num" }, String(r.waiting)),
      el("td", { class: "num wb-wait", "data-oldest": r.oldest_since || "" }, duration(r.oldest_since ? waitOf(r) : 0)),
      el("td", { class: "num" }, String(r.answered)), el("td", { class: "num" }, String(r.abandoned)),
      el("td", { class: "num" }, percent(r.service_level)), el("td", { class: "num" }, duration(r.avg_handle_seconds)),
      withAgents ? el("td", { class: "num" }, String(r.online)) : null));
  }
  node.append(body);
}

function agentsGrid(list) {
  const grid = $("#wb-agents");
  clear(grid);
  if (!list.length) { grid.append(el("li", { class: "empty" }, "暂无坐席签入")); return; }
  for (const a of list) {
    const reason = a.state === "paused" && a.reason ? (a.reason_label || label("pause_reasons", a.reason)) : "";
    const card = el("li", { class: `wb-agent state-${a.state}`, "data-extension": a.extension, "data-state": a.state },
      el("span", { class: "wb-agent-ext" }, a.extension),
      el("span", { class: "wb-agent-name" }, people.get(a.extension) || a.name),
      el("span", { class: "wb-agent-state" }, a.state_label || label("agent_states", a.state),
        reason ? el("span", { class: "wb-agent-reason" }, `（${reason}）`) : null),
      el("span", { class: "wb-agent-time", "data-since": a.since }, duration(nowServer() - a.since)));
    // The palette's colour as a custom property (CSSOM, which the CSP allows; wall.css paints with it).
    card.style.setProperty("--state-tone", Charts.stateTone("agent", a.state));
    grid.append(card);
  }
}

function tick() {
  if (!snapshot) return;
  const now = nowServer();
  const oldest = snapshot.totals.oldest_since;
  $("#t-longest").textContent = oldest ? duration(now - oldest) : "00:00";
  for (const cell of document.querySelectorAll(".wb-wait[data-oldest]")) {
    const since = Number(cell.dataset.oldest);
    cell.textContent = since ? duration(now - since) : "00:00";
  }
  for (const cell of document.querySelectorAll(".wb-agent-time[data-since]")) {
    cell.textContent = duration(now - Number(cell.dataset.since));
  }
}

// ── the standard figures and the speech service (polled) ─────────────────
function tile(key, name, value, note) {
  return el("div", { class: "wb-tile", "data-tile": key }, el("span", { class: "wb-tile-label" }, name),
    el("span", { class: "wb-tile-value" }, value), note ? el("span", { class: "hint" }, note) : null);
}

function metricName(code, std) {
  const name = label("metrics", code);
  return code === "service_level" ? `${name}（${std.service_level_seconds}秒内接通）` : name;
}

function renderStandard(std) {
  const m = std.metrics;
  const tiles = clear($("#std-tiles"));
  tiles.append(tile("offered", label("counts", "offered"), String(std.offered)));
  for (const code of STANDARD) {
    const v = m[code];
    if ("rate" in v) tiles.append(tile(code, metricName(code, std), percent(v.rate), `${v.num} / ${v.den}`));
    else tiles.append(tile(code, metricName(code, std), v.seconds === null ? "—" : `${v.seconds.toFixed(1)}秒`,
      `${v.n}通`));
  }
  Charts.bars($("#c-standard"), RATE_BARS.map((code) => ({ label: metricName(code, std), value: m[code].rate || 0,
    note: m[code].rate === null ? "（无来电）" : "" })), { title: "今日各项比率", max: 1, labelWidth: 220, width: 900,
    fit: true, format: (r) => `${(r * 100).toFixed(1)}%` });
  $("#std-note").textContent = `${std.day} 零点起，按通话记录计算（与报表同一口径），更新于 ${fmtTime(std.generated_at)}`;
}

function renderAsr(pool) {
  const badge = $("#asr-state");
  badge.textContent = pool.state_label || label("asr_states", pool.state);
  badge.className = `badge ${ASR_TONES[pool.state] || ""}`.trim();
  badge.dataset.state = pool.state;
  const busy = pool.state === "busy";
  message($("#asr-msg"), busy ? "转写繁忙：部分录音因过载未转写，坐席页面的预填与实时转写可能不完整" :
    pool.state === "offline" ? "转写中断：没有在线的转写进程，坐席页面暂无转写文字" : "", busy || pool.state === "offline" ? "error" : "info");
  const tiles = clear($("#asr-tiles"));
  tiles.append(tile("alive", "在线转写进程", `${pool.workers.alive} / ${pool.workers.known}`,
    `正在转写 ${pool.workers.busy}`));
  const recent = pool.interval;
  const span = recent ? `最近${Math.round(recent.seconds)}秒` : "最近（统计中）";
  for (const code of Object.keys(labels("asr_counters"))) {
    tiles.append(tile(code, `${span}${label("asr_counters", code)}`, recent ? String(recent[code]) : "—",
      `累计 ${pool.totals[code]}`));
  }
}

/** The recordings storage of each node watched (none: the badge stays hidden); the worst state is shown. */
function renderRecordings(board) {
  const badge = $("#wb-rec");
  const order = ["full", "low", "unknown", "normal"];
  const volumes = [...board.volumes].sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state));
  badge.hidden = !volumes.length;
  if (!volumes.length) return;
  const worst = volumes[0];
  const free = `剩余 ${(worst.free_bytes / 1048576).toFixed(0)} MB`;
  const where = worst.node ? `${worst.node} ` : "";
  badge.textContent = worst.state === "normal" ? worst.state_label : `${where}${worst.state_label}（${free}）`;
  badge.className = `badge ${REC_TONES[worst.state] || ""}`.trim();
  badge.dataset.state = worst.state;
}

async function poll() {
  const [std, pool, rec] = await Promise.allSettled([api("GET", "/wallboard/standard"), api("GET", "/wallboard/asr"),
    api("GET", "/wallboard/recordings")]);
  if (rec.status === "fulfilled") renderRecordings(rec.value);
  if (std.status === "fulfilled") renderStandard(std.value);
  else $("#std-note").textContent = `国标话务指标暂不可用：${std.reason.message}`;
  if (pool.status === "fulfilled") renderAsr(pool.value);
  else {
    $("#asr-state").textContent = "暂不可用";
    $("#asr-state").className = "badge";
    $("#asr-state").dataset.state = "";
    message($("#asr-msg"), pool.reason.message, "error");
  }
}

// ── alerts ──────────────────────────────────────────────────────────────
function renderAlerts() {
  const list = $("#wb-alerts");
  clear(list);
  if (!alerts.size) { list.append(el("li", { class: "empty" }, "暂无预警")); return; }
  const sorted = [...alerts.values()].sort((a, b) => String(b.raised_at || "").localeCompare(String(a.raised_at || "")));
  for (const a of sorted) {
    const window = a.window_hours ? (a.window_hours >= 48 && a.window_hours % 24 === 0 ? `${a.window_hours / 24}天` : `${a.window_hours}小时`) : (a.window || "");
    list.append(el("li", { class: "wb-alert", "data-id": a.id },
      el("div", { class: "wb-alert-title" }, a.title || "预警"),
      el("div", { class: "hint" }, [a.area_name || a.area, a.topic_name || a.topic, window ? `${window}内 ${a.count} 件` : `${a.count} 件`,
        a.raised_at ? `预警于 ${fmtTime(a.raised_at)}` : null].filter(Boolean).join(" · ")),
      el("div", { class: "chips" }, (a.tickets || []).map((n) =>
        el("a", { class: "badge", href: `/search.html?number=${encodeURIComponent(n)}` }, n)))));
  }
}

// ── the socket ──────────────────────────────────────────────────────────
function onBoardMessage(data) {
  if (data.type === "snapshot") render(data);
  else if (data.type === "alerts") { alerts.clear(); for (const a of data.alerts || []) alerts.set(a.id, a); renderAlerts(); }
  else if (data.type === "alert") { alerts.set(data.id, data); renderAlerts(); }
  else if (data.type === "alert_cleared") { alerts.delete(data.id); renderAlerts(); }
  else if (data.type === "unavailable" || data.type === "degraded") {
    setConnection("暂无数据", false);
    message($("#wb-msg"), data.message || "实时监控数据暂不可用", "error");
  }
}

function onSocketStatus(status) {
  if (status === "forbidden") {
    message($("#wb-msg"), "当前角色无权使用此页面", "error");
  } else if (status === "retrying") {
    setConnection("已断开", false);
    message($("#wb-msg"), "与坐席服务的连接已断开，正在重连…", "error");
  }
}

let resizing = null;
window.addEventListener("resize", () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => { if (snapshot) render(snapshot); }, 150);
});

start(["supervisor", "admin"]).then(async () => {
  const toggle = $("#wall-toggle");
  toggle.textContent = WALL ? "退出大屏" : "大屏模式";
  toggle.href = WALL ? "/wallboard.html" : "/wallboard.html?wall=1";
  try {   // before the first snapshot is drawn; without it the grid shows the phone system's member names
    for (const u of await api("GET", "/users")) if (u.extension) people.set(u.extension, u.display_name || u.username);
  } catch (err) { /* member names, then */ }
  renderAlerts();
  // Each (re)connection gets the current snapshot and alerts first: nothing to ask for again.
  reconnecting("/wallboard", { onMessage: onBoardMessage, onStatus: onSocketStatus });
  setInterval(tick, 1000);
  poll();
  setInterval(poll, POLL_MS);
}).catch(() => {});
