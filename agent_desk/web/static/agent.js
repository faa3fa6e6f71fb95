/* 坐席工作台: the screen pop over the WebSocket (and /api/calls/current after a reload), the live transcript,
   the caller's previous tickets, the ticket form prefilled from the pop, and the new ticket's actions. */
"use strict";
(() => {
  const { $, el, clear, show, message, api, fmtTime, dash, features, APPEAL_LABELS, STATE_LABELS } = Desk;
  const form = $("#ticket-form");
  const formMsg = $("#form-msg");
  const PREFILL_STATUS = { listening: "正在收听", transcribing: "正在转写", final: "转写完成", failed: "转写失败", no_speech: "未检测到语音" };
  const EMERGENCY = { 110: "110（公安）", 119: "119（消防）", 120: "120（急救）", 122: "122（交通事故）" };

  let call = null;          // the current pop's call
  let suggestedUnit = "";
  let auto = {};            // field → the value the prefill last put there (the agent's own edits are kept)
  let savedNumber = null;

  // ── the pop ─────────────────────────────────────────────────────────────
  function onPop(pop) {
    if (!pop || pop.type !== "pop" || !pop.call) return;
    const isNew = !call || call.call_id !== pop.call.call_id;
    call = pop.call;
    if (isNew) resetForm();
    show($("#no-call"), false);
    show($("#call-info"), true);
    $("#call-caller").textContent = dash(call.caller);
    $("#call-line").textContent = call.line_name ? `${call.line_name}（${call.line}）` : dash(call.line);
    $("#call-city").textContent = dash(call.city || call.subplatform);
    $("#call-answered").textContent = fmtTime(call.answered_at);
    $("#call-id").textContent = dash(call.call_id);
    form.elements.call_id.value = call.call_id;
    form.elements.source_line.value = /^\d{3,8}$/.test(call.line || "") ? call.line : "";
    form.elements.subplatform.value = call.subplatform || "";
    if (/^[0-9+\-]+$/.test(call.caller || "")) setAuto("citizen_phone", call.caller);
    renderPrefill(pop.prefill);
    renderCallerTickets(pop.tickets || []);
    if (isNew) message($("#page-msg"), `新来电：${dash(call.caller)}（${call.line_name || call.line || "未知热线"}）`, "info");
  }

  function onPrefill(update) {
    if (!call || !update || update.call_id !== call.call_id) return;
    renderPrefill(update.prefill);
  }

  function renderPrefill(prefill) {
    const card = $("#prefill-card");
    show(card, true);
    prefill = prefill || {};
    const status = $("#prefill-status");
    status.textContent = PREFILL_STATUS[prefill.status] || (prefill.status ? prefill.status : "无语音预填");
    $("#transcript").textContent = prefill.transcript || "（无转写内容）";
    $("#pf-appeal").textContent = dash(APPEAL_LABELS[prefill.appeal_type] || prefill.appeal_type);
    const places = (prefill.places || []).map((p) => (p.city && p.city !== p.name ? `${p.name}（${p.city}）` : p.name));
    $("#pf-places").textContent = dash(places.join("、"));
    $("#pf-phones").textContent = dash((prefill.phones || []).join("、"));
    $("#pf-dates").textContent = dash((prefill.dates || []).join("、"));
    $("#pf-topic").textContent = prefill.topic ? `${prefill.topic.name}（${prefill.topic.code}）` : "—";
    suggestedUnit = prefill.suggested_unit || "";
    $("#pf-unit").textContent = dash(suggestedUnit);
    const emergency = $("#emergency");
    emergency.textContent = prefill.emergency ? `紧急情况：请立即转接 ${EMERGENCY[prefill.emergency] || prefill.emergency}` : "";
    show(emergency, Boolean(prefill.emergency));

    // The form follows the prefill until the agent edits a field.
    const transcript = (prefill.transcript || "").trim();
    if (transcript) {
      setAuto("content", transcript);
      setAuto("title", titleOf(transcript, prefill.topic));
    }
    if (APPEAL_LABELS[prefill.appeal_type]) setAuto("appeal_type", prefill.appeal_type);
    if (prefill.topic && prefill.topic.code) {
      setAuto("topic", prefill.topic.code);
      $("#topic-hint").textContent = `建议：${prefill.topic.name}`;
    }
    setAuto("location", Array.from(new Set((prefill.places || []).map((p) => p.name))).join("、"));
    setAuto("occurred", (prefill.dates || []).join("、"));
  }

  function titleOf(transcript, topic) {
    const first = transcript.split(/[。！？!?\n]/)[0].trim() || transcript;
    const short = first.length > 30 ? first.slice(0, 30) + "…" : first;
    return topic && topic.name ? `【${topic.name}】${short}` : short;
  }

  function setAuto(name, value) {
    const control = form.elements.namedItem(name);
    if (!control || value === undefined || value === null) return;
    const previous = Object.prototype.hasOwnProperty.call(auto, name) ? auto[name] : "";
    if (control.value === "" || control.value === previous || (control.tagName === "SELECT" && control.value === "")) {
      control.value = value;
    }
    auto[name] = value;
  }

  function renderCallerTickets(tickets) {
    const list = clear($("#caller-tickets"));
    show($("#history-card"), true);
    if (!tickets.length) {
      list.append(el("li", { class: "empty" }, "该来电号码暂无历史工单"));
      return;
    }
    for (const t of tickets) {
      list.append(el("li", { "data-number": t.number, "data-open": t.open ? "1" : "0" },
        el("span", { class: "number" }, t.number),
        Desk.stateBadge(t),
        t.open ? el("span", { class: "badge open" }, "未办结") : null,
        Desk.overdueBadge(t),
        el("span", { class: "title" }, `${t.title}（${t.appeal_label}）`),
        el("span", { class: "hint" }, fmtTime(t.created_at)),
        el("button", { type: "button", class: "secondary", onclick: () => openTicket(t.number) }, "查看"),
        t.open ? el("button", { type: "button", onclick: () => linkTo(t) , "aria-label": `关联此工单 ${t.number}` }, "关联此工单") : null));
    }
  }

  function linkTo(ticket) {
    form.elements.repeat_of.value = ticket.number;
    const banner = clear($("#repeat-banner"));
    banner.append(`本次来电将作为重复诉求关联工单 ${ticket.number}（${ticket.state_label}）。`,
      el("button", { type: "button", class: "secondary", onclick: unlink }, "取消关联"));
    show(banner, true);
    setAuto("title", ticket.title);
    if (APPEAL_LABELS[ticket.appeal_type]) setAuto("appeal_type", ticket.appeal_type);
    if (ticket.topic) setAuto("topic", ticket.topic);
    form.elements.title.focus();
  }

  function unlink() {
    form.elements.repeat_of.value = "";
    show($("#repeat-banner"), false);
  }

  function resetForm() {
    form.reset();
    auto = {};
    savedNumber = null;
    unlink();
    $("#topic-hint").textContent = "";
    $("#save-ticket").disabled = false;
    message(formMsg, "", "info");
    clear($("#ticket-detail"));
    show($("#ticket-card"), false);
    if (call) {
      form.elements.call_id.value = call.call_id;
      form.elements.source_line.value = /^\d{3,8}$/.test(call.line || "") ? call.line : "";
      form.elements.subplatform.value = call.subplatform || "";
    }
  }

  // ── saving the ticket ───────────────────────────────────────────────────
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const missing = [];
    if (!f.title.value.trim()) missing.push("标题");
    if (!f.content.value.trim()) missing.push("诉求内容");
    if (!f.appeal_type.value) missing.push("诉求类型");
    if (missing.length) {
      message(formMsg, `请填写：${missing.join("、")}`, "error");
      return;
    }
    if (f.citizen_phone.value && !/^[0-9+\-]*$/.test(f.citizen_phone.value.trim())) {
      message(formMsg, "联系电话只能包含数字、+ 和 -", "error");
      f.citizen_phone.focus();
      return;
    }
    const optional = (value) => (value && value.trim() ? value.trim() : null);
    const draft = {
      channel: "phone", call_id: optional(f.call_id.value), source_line: optional(f.source_line.value),
      subplatform: optional(f.subplatform.value), repeat_of: optional(f.repeat_of.value),
      citizen_name: f.citizen_name.value.trim(), citizen_phone: f.citizen_phone.value.trim(),
      confidential: f.confidential.checked, occurred: f.occurred.value.trim(), location: f.location.value.trim(),
      title: f.title.value.trim(), content: f.content.value.trim(), demand: f.demand.value.trim(),
      appeal_type: f.appeal_type.value, topic: f.topic.value.trim(), urgency: f.urgency.value,
    };
    const button = $("#save-ticket");
    button.disabled = true;
    try {
      const result = await api("POST", "/api/tickets", draft);
      if (result.created) {
        savedNumber = result.number;
        message(formMsg, `工单已保存，编号 ${result.number}（${STATE_LABELS[result.state] || result.state}）`, "ok");
      } else {
        savedNumber = result.linked_to;
        message(formMsg, result.message || `已关联至工单 ${result.linked_to}`, "ok");
      }
      await openTicket(savedNumber);
    } catch (err) {
      message(formMsg, err.message, "error");
      button.disabled = false;
    }
  });

  $("#reset-form").addEventListener("click", () => {
    resetForm();
    message(formMsg, "已清空表单，可登记新工单", "info");
  });

  async function openTicket(number) {
    const card = $("#ticket-card");
    show(card, true);
    try {
      await Desk.renderTicket($("#ticket-detail"), number, { suggestedUnit });
      card.scrollIntoView({ block: "nearest" });
    } catch (err) {
      message($("#page-msg"), err.message, "error");
    }
  }

  // ── the WebSocket ───────────────────────────────────────────────────────
  const wsState = $("#ws-state");
  let socket = null;
  let retry = 0;
  let ping = null;

  function setWs(text, live) {
    wsState.textContent = text;
    wsState.className = "badge " + (live ? "live" : "down");
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/desk`);
    setWs("连接中…", false);
    socket.addEventListener("message", (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch (err) { return; }
      if (data.type === "hello") {
        retry = 0;
        setWs("已连接", true);
      } else if (data.type === "pop") {
        onPop(data);
      } else if (data.type === "prefill") {
        onPrefill(data);
      } else if (data.type === "degraded") {
        setWs("弹屏暂不可用", false);
        message($("#page-msg"), data.message || "实时弹屏暂不可用，请刷新或查看当前通话", "error");
      }
    });
    socket.addEventListener("close", (ev) => {
      clearInterval(ping);
      if (ev.code === 4401) { Desk.toLogin(); return; }
      setWs("已断开，正在重连…", false);
      retry = Math.min(retry + 1, 6);
      setTimeout(() => { connect(); loadCurrent(); }, 1000 * 2 ** (retry - 1));
    });
    ping = setInterval(() => { if (socket.readyState === WebSocket.OPEN) socket.send("ping"); }, 25000);
  }

  async function loadCurrent() {
    try {
      const current = await api("GET", "/api/calls/current");
      if (current && current.type === "pop") onPop(current);
    } catch (err) {
      message($("#page-msg"), err.message, "error");
    }
  }

  Desk.start(["agent"]).then(() => {
    features();
    connect();
    loadCurrent();
  }).catch(() => {});
})();
