/* 坐席管理: supervisors see every agent's phone, queues and pause state (GET /api/v1/agents), log agents in and
   out, pause them with a reason (GET /api/v1/pause-reasons), set their skills (PUT /api/v1/agents/{ext}/skills), and
   listen / whisper / barge on a live call (POST /api/v1/calls/spy: their own softphone rings), following that call's
   live transcript while listening (its turns so far, then each one over /ws/desk). */

import { api } from "./api.js";
import { $, clear, el, message, show } from "./dom.js";
import { start } from "./header.js";
import { reconnecting } from "./socket.js";
import { transcriptPanel } from "./transcript.js";
import { label, labels } from "./vocab.js";

const body = $("#agents-table tbody");
const status = $("#agents-msg");
const panel = $("#agent-panel");
let who = null;
let reasons = [];
let planQueues = [];
let timer = null;
const spyTurns = transcriptPanel($("#spy-turns"), { empty: $("#spy-empty"), busy: $("#spy-busy") });

// "置忙" is this page's own word (its button): a paused agent shows 置忙 and the reasons.
const pauseReason = (q) => q.reason_label || label("pause_reasons", q.reason) || "置忙";

function stateOf(a) {
  if (!a.logged_in) return el("span", { class: "badge" }, label("agent_states", "logged_out"));
  if (a.in_call) return el("span", { class: "badge live" }, label("agent_states", "on_call"));
  if (a.paused) {
    const why = [...new Set(a.queues.filter((q) => q.paused).map(pauseReason))];
    return el("span", { class: "badge open" }, `置忙：${why.join("、")}`);
  }
  return el("span", { class: "badge state" }, label("agent_states", "idle"));
}

function queuesOf(a) {
  if (!a.queues.length) return "—";
  return el("ul", { class: "plain agent-queues" }, a.queues.map((q) =>
    el("li", { "data-queue": q.queue }, q.name, q.paused ? el("span", { class: "hint" }, `（${pauseReason(q)}）`) : null)));
}

function skillsOf(a) {
  const text = a.skills.map((s) => `${s.name}（${s.penalty}）`).join("、") || "—";
  return el("span", {}, text, a.skills_source === "site" ? el("span", { class: "hint" }, " 默认") : null);
}

async function act(label, method, url, payload) {
  try {
    const result = await api(method, url, payload);
    message(status, result && result.message ? result.message : `${label}成功`, "ok");
    await load();
    return result;
  } catch (err) {
    message(status, `${label}失败：${err.message}`, "error");
    return null;
  }
}

function actions(a) {
  const base = `/agents/${encodeURIComponent(a.extension)}`;
  const reason = el("select", { "aria-label": `分机${a.extension}置忙原因` },
    reasons.map((r) => el("option", { value: r.code, selected: r.default || null }, r.label)));
  const buttons = [
    el("button", { type: "button", "data-act": "login", disabled: !a.registered || null,
      title: a.registered ? (a.logged_in ? "按当前技能重新签入" : null) : "话机未注册",
      onclick: () => act("签入", "POST", `${base}/login`) }, a.logged_in ? "重新签入" : "签入"),
    el("button", { type: "button", class: "secondary", "data-act": "logout", disabled: !a.logged_in || null,
      onclick: () => act("签出", "POST", `${base}/logout`) }, "签出"),
    el("span", { class: "pause-group" }, reason,
      el("button", { type: "button", class: "secondary", "data-act": "pause", disabled: !a.logged_in || null,
        onclick: () => act("置忙", "POST", `${base}/pause`, { reason: reason.value }) }, "置忙")),
    el("button", { type: "button", class: "secondary", "data-act": "unpause", disabled: !a.paused || null,
      onclick: () => act("置闲", "POST", `${base}/unpause`) }, "置闲"),
    el("button", { type: "button", class: "secondary", "data-act": "skills", onclick: () => openSkills(a) }, "技能设置"),
  ];
  if (who.role === "supervisor") {
    for (const [mode, name] of Object.entries(labels("spy_modes"))) {
      buttons.push(el("button", { type: "button", class: mode === "barge" ? "danger" : "secondary", "data-act": mode,
        disabled: !a.in_call || null, title: a.in_call ? null : "坐席当前没有通话",
        onclick: () => spyOn(a.extension, mode, name) }, name));
    }
  }
  return el("div", { class: "buttons agent-actions", role: "group", "aria-label": `分机${a.extension}操作` }, buttons);
}

function row(a) {
  return el("tr", { "data-extension": a.extension },
    el("td", {}, a.extension),
    el("td", {}, a.display_name || a.user),
    el("td", {}, el("span", { class: a.registered ? "badge live" : "badge down" }, a.registered ? "已注册" : "未注册")),
    el("td", {}, stateOf(a)),
    el("td", {}, queuesOf(a)),
    el("td", {}, skillsOf(a)),
    el("td", {}, actions(a)));
}

function openSkills(a) {
  clear(panel);
  show(panel, true);
  const current = new Map(a.skills.map((s) => [s.queue, s.penalty]));
  const formStatus = el("div", { class: "msg", role: "status" });
  const rows = planQueues.map((q) => {
    const box = el("input", { type: "checkbox", name: "queue", value: q.queue, id: `sk-${q.queue}`,
      checked: current.has(q.queue) || null });
    const penalty = el("input", { type: "number", min: "0", max: "100", step: "1", value: String(current.get(q.queue) || 0),
      "aria-label": `${q.name}优先级`, dataset: { queue: q.queue } });
    return el("tr", {}, el("td", {}, box), el("td", {}, el("label", { for: box.id }, q.name)),
      el("td", {}, penalty));
  });
  const form = el("form", { class: "skills-form", novalidate: true, "aria-label": `分机${a.extension}技能设置` },
    el("h2", {}, `技能设置：分机 ${a.extension}（${a.display_name || a.user}）`),
    el("p", { class: "hint" }, "勾选坐席服务的队列；优先级数字越小越先接听（0–100）。保存后于下次签入时生效。",
      a.skills_source === "site" ? "当前使用站点默认配置。" : ""),
    el("div", { class: "table-wrap skills-table" }, el("table", {},
      el("thead", {}, el("tr", {}, ["服务", "队列", "优先级"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows))),
    formStatus,
    el("div", { class: "buttons" },
      el("button", { type: "submit" }, "保存"),
      el("button", { type: "button", class: "secondary", onclick: async () => {
        if (await act("恢复默认技能", "DELETE", `/agents/${encodeURIComponent(a.extension)}/skills`)) { clear(panel); show(panel, false); }
      } }, "恢复默认"),
      el("button", { type: "button", class: "secondary", onclick: () => { clear(panel); show(panel, false); } }, "关闭")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const queues = [];
    for (const box of form.querySelectorAll("input[name=queue]:checked")) {
      const input = form.querySelector(`input[type=number][data-queue="${box.value}"]`);
      const penalty = Number(input.value);
      if (input.value.trim() === "" || !Number.isInteger(penalty) || penalty < 0 || penalty > 100) {
        message(formStatus, "优先级须为0至100的整数", "error");
        input.focus();
        return;
      }
      queues.push({ queue: box.value, penalty });
    }
    if (!queues.length) { message(formStatus, "请至少选择一个队列", "error"); return; }
    try {
      await api("PUT", `/agents/${encodeURIComponent(a.extension)}/skills`, { queues });
      message(formStatus, "已保存，坐席下次签入时生效", "ok");
      await load();
    } catch (err) {
      message(formStatus, err.message, "error");
    }
  });
  panel.append(form);
  panel.scrollIntoView({ block: "nearest" });
}

/** 监听/耳语/强插: the supervisor's phone rings; the call's transcript follows on this page. */
async function spyOn(extension, mode, name) {
  const reply = await act(name, "POST", "/calls/spy", { agent: extension, mode });
  if (!reply || !reply.call_id) return;
  show($("#spy-card"), true);
  $("#spy-call").textContent = `${name}：分机${extension}（通话 ${reply.call_id}）`;
  try {
    await spyTurns.open(reply.call_id);
  } catch (err) {
    message(status, err.message, "error");
  }
}

function followTurns() {
  reconnecting("/desk", {
    onMessage: (data) => { if (data.type === "turn") spyTurns.add(data.turn); },
    onOpen: ({ reconnected }) => { if (reconnected && spyTurns.callId) spyTurns.open(spyTurns.callId).catch(() => {}); },
  });
}

async function load() {
  try {
    const data = await api("GET", "/agents");
    planQueues = data.queues || [];
    const list = data.agents || [];
    clear(body);
    if (!list.length) body.append(el("tr", {}, el("td", { colspan: "7", class: "empty" }, "暂无绑定分机的坐席")));
    for (const a of list) body.append(row(a));
    const onLine = list.filter((a) => a.logged_in).length;
    const busy = list.filter((a) => a.in_call).length;
    const paused = list.filter((a) => a.paused).length;
    $("#agents-summary").textContent = `共${list.length}名坐席，已签入${onLine}，通话中${busy}，置忙${paused}`;
    $("#my-phone").textContent = who.role === "supervisor"
      ? (data.supervisor_extension ? `监听话机：分机${data.supervisor_extension}` : "您的账号未绑定分机，无法监听") : "";
  } catch (err) {
    clear(body);
    body.append(el("tr", {}, el("td", { colspan: "7", class: "msg error" }, err.message)));
  }
}

async function init() {
  try {
    who = await start(["supervisor", "admin"]);
  } catch (err) {
    return;
  }
  try {
    reasons = await api("GET", "/pause-reasons");
  } catch (err) {
    message(status, err.message, "error");
  }
  $("#agents-refresh").addEventListener("click", load);
  if (who.role === "supervisor") followTurns();
  await load();
  timer = setInterval(() => { if (!document.hidden && !body.contains(document.activeElement)) load(); }, 10000);
}

window.addEventListener("pagehide", () => clearInterval(timer));
init();
