/* 12345 坐席工作台: shared helpers of every page (no framework). Data is always put in the page as text,
   never as HTML: transcripts and ticket contents come from citizens. */
"use strict";

const Desk = (() => {
  const STATE_LABELS = {
    accepted: "已受理", refused: "不予受理", dispatched: "已派单", signed: "已签收", return_requested: "退单审核中",
    returned: "已退回", consultation: "会商中", replied: "已答复", awaiting_callback: "待回访",
    unsatisfied: "回访不满意", appealed: "申诉中", closed: "已办结",
  };
  const ACTION_LABELS = {
    accept: "受理", refuse: "不予受理", resolve_directly: "直接办结", dispatch: "派单", sign: "签收",
    request_return: "退单", approve_return: "同意退单", reject_return: "驳回退单", start_consultation: "发起会商",
    settle_consultation: "会商定责", reply: "答复", approve_reply: "审核通过", reject_reply: "审核退回",
    callback: "回访", appeal: "申诉", approve_appeal: "同意申诉", reject_appeal: "驳回申诉", reopen: "重办",
    close_unsatisfied: "不满意办结", seal_final_opinion: "封存最终处理意见", supervise: "督办", escalate: "升级",
    repeat_linked: "重复诉求关联", survey: "来电满意度评价",
  };
  const APPEAL_LABELS = { consultation: "咨询", help: "求助", complaint: "投诉举报", suggestion: "意见建议", other: "其他" };
  const URGENCY_LABELS = { normal: "一般", urgent: "紧急", very_urgent: "特急" };
  const ROLE_LABELS = { agent: "话务员", supervisor: "平台管理员", unit: "承办单位", admin: "系统管理员", gateway: "渠道接入" };
  const REFUSAL_LABELS = {
    litigation: "属于诉讼事项", arbitration: "属于仲裁事项", discipline: "属于纪检监察事项",
    reconsideration: "属于行政复议事项", information_disclosure: "属于政府信息公开申请",
    petition: "已进入信访渠道", secrets: "涉及国家秘密、商业秘密", privacy: "涉及个人隐私",
    public_order: "违反社会公序良俗", emergency: "紧急事项（转110/119/120/122）",
  };
  const EXCLUSION_LABELS = {
    illegal_or_against_public_order: "违法或违背公序良俗的诉求",
    beyond_remit: "超出承办单位职权范围",
    other_legal_channel: "应当或已经通过诉讼、仲裁、纪检监察、行政复议、政府信息公开、信访解决",
  };
  const SATISFACTION_LABELS = { satisfied: "满意", basically_satisfied: "基本满意", unsatisfied: "不满意" };
  const LEVEL_LABELS = { town: "镇（街道）", county: "县（区）", city: "市", province: "省" };
  const DATA_LABELS = {
    host_unit: "主办单位", host: "主办单位", unit: "承办单位", co_units: "协办单位", reason: "理由", legal_basis: "法律法规依据", content: "答复内容",
    answer: "答复", knowledge_ref: "知识库", explanation: "说明", result: "回访结果", solved: "是否解决",
    category: "申诉类别", basis: "依据", opinion: "最终处理意见", note: "督办意见", to: "升级至", units: "会商单位",
    decided_unit: "定责单位", appeal_type: "诉求类型", urgency: "紧急程度", channel: "渠道", call_id: "通话",
    final_opinion: "最终处理意见", due_at: "办理时限", digits: "按键",
  };

  // ── DOM ─────────────────────────────────────────────────────────────────
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const $ = (selector, root) => (root || document).querySelector(selector);
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function show(node, visible) { node.hidden = !visible; }
  function message(node, text, kind) {
    node.className = "msg " + (kind || "info");
    node.textContent = text || "";
    if (kind === "error") node.setAttribute("role", "alert"); else node.setAttribute("role", "status");
  }
  const dash = (value) => (value === null || value === undefined || value === "" ? "—" : String(value));

  function fmtTime(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso);
    const parts = new Intl.DateTimeFormat("zh-CN", {
      timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", hour12: false,
    }).formatToParts(date);
    const get = (type) => (parts.find((p) => p.type === type) || {}).value || "";
    return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
  }

  // ── API ─────────────────────────────────────────────────────────────────
  class ApiError extends Error {
    constructor(status, code, text) { super(text); this.status = status; this.code = code; }
  }

  async function api(method, url, body, { redirectOn401 = true } = {}) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new ApiError(0, "network", "无法连接服务器，请检查网络后重试");
    }
    let data = null;
    const text = await response.text();
    if (text) {
      try { data = JSON.parse(text); } catch (err) { data = null; }
    }
    if (!response.ok) {
      if (response.status === 401 && redirectOn401) toLogin();
      const fallback = response.status >= 500 ? "服务器内部错误，请稍后再试" : `请求失败（${response.status}）`;
      throw new ApiError(response.status, data && data.error, (data && data.message) || fallback);
    }
    return data;
  }

  const qs = (params) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "" && value !== false) search.set(key, value);
    }
    const text = search.toString();
    return text ? "?" + text : "";
  };

  function toLogin() {
    const next = location.pathname + location.search;
    location.href = "/" + (next && next !== "/" ? "?next=" + encodeURIComponent(next) : "");
  }

  // Every desk has these endpoints; kept as one switch so a trimmed deployment can turn one off.
  const FEATURES = Object.freeze({ units: true, dispatch_suggest: true, knowledge: true });
  function features() {
    return Promise.resolve(FEATURES);
  }

  const HOME = { agent: "/agent.html", supervisor: "/search.html", unit: "/unit.html", admin: "/views.html" };
  const NAV = {
    agent: [["/agent.html", "坐席工作台"], ["/search.html", "工单查询"]],
    supervisor: [["/search.html", "工单查询"], ["/views.html", "观管评"], ["/report.html", "报表"], ["/agents.html", "坐席管理"], ["/wallboard.html", "实时监控"]],
    admin: [["/views.html", "观管评"], ["/report.html", "报表"]],
    unit: [["/unit.html", "待办工单"], ["/search.html", "工单查询"]],
  };

  /** The signed-in user, with the page header drawn; redirects to the login page when not signed in. */
  async function start(allowedRoles) {
    const who = await api("GET", "/api/me");
    const header = $("#topbar");
    clear(header);
    const links = (NAV[who.role] || []).map(([href, label]) =>
      el("li", {}, el("a", { href, "aria-current": location.pathname === href ? "page" : null }, label)));
    const logout = el("button", { type: "button", id: "logout", onclick: async () => {
      try { await api("POST", "/api/auth/logout", undefined, { redirectOn401: false }); } catch (err) { /* gone anyway */ }
      location.href = "/";
    } }, "退出登录");
    header.append(
      el("h1", {}, "12345 政务服务便民热线"),
      el("nav", { "aria-label": "主导航" }, el("ul", {}, links)),
      el("div", { class: "who" },
        el("span", { id: "whoami" }, `${who.display_name || who.username}（${who.role_label || ROLE_LABELS[who.role] || who.role}${who.unit ? " · " + who.unit : ""}）`),
        logout));
    if (allowedRoles && !allowedRoles.includes(who.role)) {
      const main = $("main");
      clear(main);
      main.append(el("div", { class: "card" },
        el("p", { class: "msg error", role: "alert" }, "当前角色无权使用此页面。"),
        HOME[who.role] ? el("a", { href: HOME[who.role] }, "前往我的首页") : null));
      throw new ApiError(403, "forbidden_role", "当前角色无权使用此页面");
    }
    return who;
  }

  // ── ticket detail and actions ───────────────────────────────────────────
  function stateBadge(ticket) {
    return el("span", { class: "badge state", "data-state": ticket.state }, ticket.state_label || STATE_LABELS[ticket.state] || ticket.state);
  }
  function overdueBadge(ticket) {
    return ticket.overdue ? el("span", { class: "badge overdue", title: "已超过办理时限" }, "超期") : null;
  }

  function summariseData(data) {
    if (!data || typeof data !== "object") return "";
    const parts = [];
    for (const [key, value] of Object.entries(data)) {
      if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) continue;
      let shown = value;
      if (key === "result") shown = SATISFACTION_LABELS[value] || value;
      else if (key === "reason" && REFUSAL_LABELS[value]) shown = REFUSAL_LABELS[value];
      else if (key === "category") shown = EXCLUSION_LABELS[value] || value;
      else if (key === "to") shown = LEVEL_LABELS[value] || value;
      else if (key === "appeal_type") shown = APPEAL_LABELS[value] || value;
      else if (key === "urgency") shown = URGENCY_LABELS[value] || value;
      else if (key === "due_at") shown = fmtTime(value);
      else if (typeof value === "boolean") shown = value ? "是" : "否";
      else if (Array.isArray(value)) shown = value.join("、");
      else if (typeof value === "object") shown = JSON.stringify(value);
      parts.push(`${DATA_LABELS[key] || key}：${shown}`);
    }
    return parts.join("；");
  }

  function historyTable(history) {
    if (!history || !history.length) return el("p", { class: "empty" }, "暂无办理记录");
    return el("div", { class: "table-wrap" }, el("table", { class: "history" },
      el("caption", { class: "sr-only" }, "办理记录"),
      el("thead", {}, el("tr", {}, ["时间", "操作", "办理人", "状态变化", "说明"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, history.map((event) => el("tr", { "data-action": event.action },
        el("td", {}, fmtTime(event.at)),
        el("td", {}, event.action_label || ACTION_LABELS[event.action] || event.action),
        el("td", {}, event.actor),
        el("td", {}, `${event.from_state ? (STATE_LABELS[event.from_state] || event.from_state) + " → " : ""}${STATE_LABELS[event.to_state] || event.to_state}`),
        el("td", {}, summariseData(event.data)))))));
  }

  function ticketFacts(ticket) {
    const rows = [
      ["工单编号", ticket.number], ["状态", null], ["诉求类型", ticket.appeal_label], ["渠道", ticket.channel_label],
      ["来源热线", ticket.source_line], ["标题", ticket.title],
      ["市民姓名", ticket.citizen_name], ["联系电话", ticket.citizen_phone],
      ["发生时间", ticket.occurred], ["地点", ticket.location], ["诉求内容", ticket.content], ["诉求", ticket.demand],
      ["业务分类", ticket.topic], ["紧急程度", URGENCY_LABELS[ticket.urgency] || ticket.urgency],
      ["保密", ticket.confidential === undefined ? null : (ticket.confidential ? "是" : "否")],
      ["主办单位", ticket.host_unit_name ? `${ticket.host_unit_name}${ticket.host_unit ? "（" + ticket.host_unit + "）" : ""}` : ticket.host_unit],
      ["协办单位", (ticket.co_units || []).join("、")], ["受理时间", fmtTime(ticket.created_at)],
      ["办理时限", ticket.due_at ? fmtTime(ticket.due_at) : null], ["处理层级", LEVEL_LABELS[ticket.level] || ticket.level],
      ["回访结果", SATISFACTION_LABELS[ticket.satisfaction] || ticket.satisfaction],
      ["不予受理原因", REFUSAL_LABELS[ticket.refusal] || ticket.refusal], ["最终处理意见", ticket.final_opinion],
      ["督办次数", ticket.supervisions || null], ["退单次数", ticket.returns || null],
    ];
    const dl = el("dl", { class: "kv" });
    for (const [label, value] of rows) {
      if (label === "状态") {
        dl.append(el("dt", {}, label), el("dd", { class: "state-cell" }, stateBadge(ticket), " ", overdueBadge(ticket)));
        continue;
      }
      if (value === null || value === undefined || value === "") continue;
      const dd = el("dd", {}, String(value));
      if ((label === "市民姓名" || label === "联系电话") && ticket.contact_masked) dd.append(el("span", { class: "hint" }, "（已脱敏）"));
      dl.append(el("dt", {}, label), dd);
    }
    return dl;
  }

  // One form per action: fields and how to build the body from them.
  function optionList(labels, placeholder) {
    return [el("option", { value: "" }, placeholder || "请选择"),
      ...Object.entries(labels).map(([value, label]) => el("option", { value }, label))];
  }

  // Units: looked up as the user types (GET /api/units?q=) when the desk has that endpoint.
  const unitNames = new Map();   // code → name, of every unit seen
  async function lookupUnits(q) {
    const f = await features();
    if (!f.units) return [];
    try {
      const data = await api("GET", "/api/units" + qs({ q: q.slice(0, 32), limit: 20 }));
      const list = Array.isArray(data) ? data : (data && (data.items || data.units)) || [];
      const units = list.map((u) => (typeof u === "string" ? { code: u, name: u } : { code: u.code, name: u.name || u.code }))
        .filter((u) => u.code);
      for (const u of units) unitNames.set(u.code, u.name);
      return units;
    } catch (err) {
      return [];
    }
  }

  let uid = 0;
  function field(label, control, hint) {
    const id = control.id || `f${++uid}`;
    control.id = id;
    const hintNode = hint ? el("span", { class: "hint", id: id + "-hint" }, hint) : null;
    if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
    if (control.type === "checkbox") return el("div", { class: "field check" }, control, el("label", { for: id }, label), hintNode);
    return el("div", { class: "field" }, el("label", { for: id }, label), control, hintNode);
  }

  /** A unit picker: a code input that suggests units by name or code (when /api/units exists); for
   * several units, chosen ones become removable chips kept in a hidden input (comma-separated codes). */
  async function unitField(name, label, { multiple = false, required = true } = {}) {
    const f = await features();
    const listId = `units-${++uid}`;
    const datalist = el("datalist", { id: listId });
    const input = el("input", { type: "text", autocomplete: "off", list: f.units ? listId : null, maxlength: 64,
      name: multiple ? null : name, required: required && !multiple, dataset: { unitPicker: name } });
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const q = input.value.trim();
      if (!f.units || !q) return;
      timer = setTimeout(async () => {
        const units = await lookupUnits(q);
        clear(datalist);
        for (const u of units) datalist.append(el("option", { value: u.code }, u.name));
      }, 200);
    });
    const hint = f.units ? "输入单位名称或编码，从候选中选择" : "填写单位编码";
    if (!multiple) return el("div", {}, field(label, input, hint), datalist);

    const hidden = el("input", { type: "hidden", name });
    const chips = el("div", { class: "chips", "aria-live": "polite" });
    const codes = [];
    const redraw = () => {
      hidden.value = codes.join(",");
      clear(chips);
      for (const code of codes) {
        chips.append(el("span", { class: "badge", "data-code": code }, unitNames.get(code) ? `${unitNames.get(code)}（${code}）` : code, " ",
          el("button", { type: "button", class: "secondary", "aria-label": `移除 ${code}`, onclick: () => {
            codes.splice(codes.indexOf(code), 1); redraw(); } }, "×")));
      }
    };
    const add = () => {
      for (const code of input.value.split(/[,，、\s]+/).filter(Boolean)) if (!codes.includes(code)) codes.push(code);
      input.value = "";
      redraw();
      input.focus();
    };
    input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); add(); } });
    const wrap = field(label, input, hint + (required ? "；至少添加两家" : "") + "；按回车或“添加”加入");
    wrap.append(el("div", { class: "buttons" }, el("button", { type: "button", class: "secondary", onclick: add }, "添加")), chips);
    // A code typed but not yet added still counts when the form is submitted.
    hidden.addEventListener("collect", () => { if (input.value.trim()) add(); });
    return el("div", {}, wrap, hidden, datalist);
  }

  const ACTION_FORMS = {
    dispatch: async (ctx) => {
      const parts = [await unitField("host_unit", "主办单位"), await unitField("co_units", "协办单位（可选）", { multiple: true, required: false })];
      const hint = ctx.suggestedUnit ? el("p", { class: "hint" }, `预填建议承办单位：${ctx.suggestedUnit}`) : null;
      const f = await features();
      let suggest = null;
      if (f.dispatch_suggest && ctx.ticket) suggest = suggestionsBox(ctx.ticket);
      return [hint, suggest, ...parts];
    },
    resolve_directly: async (ctx) => {
      const answer = el("textarea", { name: "answer", required: true, maxlength: 5000 });
      const ref = el("input", { type: "text", name: "knowledge_ref", maxlength: 64 });
      const f = await features();
      return [f.knowledge ? knowledgeBox(answer, ref) : null, field("答复内容", answer), field("知识库条目编号（可选）", ref)];
    },
    refuse: async () => [
      field("不予受理原因", el("select", { name: "reason", required: true }, optionList(REFUSAL_LABELS))),
      field("向市民说明", el("textarea", { name: "explanation", required: true, maxlength: 2000 }), "告知市民应通过何种渠道反映"),
    ],
    sign: async () => [el("p", { class: "hint" }, "确认签收后开始办理，办理时限照常计算。")],
    request_return: async () => [
      field("退单理由", el("textarea", { name: "reason", required: true, maxlength: 2000 })),
      field("法律法规依据", el("textarea", { name: "legal_basis", required: true, maxlength: 2000 }), "例如：《城市供水条例》第二十二条"),
    ],
    approve_return: async () => [el("p", { class: "hint" }, "同意后工单退回平台重新派单。")],
    reject_return: async () => [field("驳回理由", el("textarea", { name: "reason", maxlength: 2000 }))],
    start_consultation: async () => [await unitField("units", "会商单位（至少两家）", { multiple: true, required: true })],
    settle_consultation: async () => [await unitField("decided_unit", "定责单位"), await unitField("co_units", "协办单位（可选）", { multiple: true, required: false })],
    reply: async () => [field("答复内容", el("textarea", { name: "content", required: true, maxlength: 10000 }))],
    approve_reply: async () => [el("p", { class: "hint" }, "审核通过后进入回访。")],
    reject_reply: async () => [field("退回理由", el("textarea", { name: "reason", maxlength: 2000 }))],
    callback: async () => [
      field("回访结果", el("select", { name: "result", required: true }, optionList(SATISFACTION_LABELS))),
      field("问题已解决", el("input", { type: "checkbox", name: "solved" })),
    ],
    appeal: async () => [
      field("申诉类别", el("select", { name: "category", required: true }, optionList(EXCLUSION_LABELS))),
      field("申诉理由", el("textarea", { name: "reason", required: true, maxlength: 2000 })),
    ],
    approve_appeal: async () => [field("认定依据", el("textarea", { name: "basis", required: true, maxlength: 2000 }))],
    reject_appeal: async () => [field("驳回理由", el("textarea", { name: "reason", maxlength: 2000 }))],
    reopen: async () => [field("重办理由", el("textarea", { name: "reason", maxlength: 2000 }))],
    close_unsatisfied: async () => [el("p", { class: "hint" }, "按不满意办结，计入满意率统计。")],
    seal_final_opinion: async () => [field("最终处理意见", el("textarea", { name: "opinion", required: true, maxlength: 5000 }), "封存后同一诉求再次来电将关联至本工单")],
    supervise: async () => [field("督办意见", el("textarea", { name: "note", required: true, maxlength: 2000 }))],
    escalate: async () => [
      field("升级至", el("select", { name: "to", required: true }, optionList(LEVEL_LABELS))),
      field("升级理由", el("textarea", { name: "reason", required: true, maxlength: 2000 })),
    ],
  };
  const NO_BODY = new Set(["sign", "approve_return", "approve_reply", "close_unsatisfied"]);
  const LISTS = new Set(["co_units", "units"]);

  function bodyOf(action, form) {
    if (NO_BODY.has(action)) return undefined;
    for (const hidden of form.querySelectorAll("input[type=hidden]")) hidden.dispatchEvent(new Event("collect"));
    const body = {};
    for (const control of form.elements) {
      if (!control.name) continue;
      if (control.type === "checkbox") body[control.name] = control.checked;
      else if (control.multiple) body[control.name] = Array.from(control.selectedOptions).map((o) => o.value);
      else if (LISTS.has(control.name)) body[control.name] = control.value.split(/[,，、\s]+/).filter(Boolean);
      else body[control.name] = control.value.trim();
    }
    if (action === "resolve_directly" && !body.knowledge_ref) delete body.knowledge_ref;
    return body;
  }

  function suggestionsBox(ticket) {
    const box = el("div", { class: "suggestions", "aria-live": "polite" }, el("span", { class: "hint" }, "正在获取派单建议…"));
    const params = { number: ticket.number, topic: ticket.topic, subplatform: ticket.subplatform,
      text: `${ticket.title || ""} ${ticket.content || ""}`.slice(0, 500) };
    api("GET", "/api/dispatch/suggest" + qs(params)).then((data) => {
      const list = Array.isArray(data) ? data : (data && (data.items || data.suggestions)) || [];
      clear(box);
      if (!list.length) { box.append(el("span", { class: "hint" }, "暂无派单建议")); return; }
      box.append(el("div", { class: "label" }, "派单建议（点击填入主办单位）："), el("ul", { class: "plain" }, list.map((s) => {
        const code = s.unit_code || s.code || s.unit || s.host_unit;
        const name = s.unit_name || s.name || code;
        if (code) unitNames.set(code, name);
        return el("li", {}, el("button", { type: "button", class: "secondary", "data-code": code, onclick: (ev) => {
          const input = ev.target.closest("form").querySelector("[data-unit-picker=host_unit]");
          if (input) input.value = code;
        } }, `${name}（${code}）`), " ", el("span", { class: "hint" }, s.why || s.basis || ""));
      })));
    }).catch(() => { clear(box); });
    return box;
  }

  function knowledgeBox(answer, ref) {
    const input = el("input", { type: "search", "aria-label": "搜索知识库", placeholder: "输入关键词搜索知识库" });
    const results = el("ul", { class: "plain kb-results", "aria-live": "polite" });
    const run = async () => {
      clear(results);
      const q = input.value.trim();
      if (!q) return;
      try {
        const data = await api("GET", "/api/knowledge" + qs({ q }));
        const list = Array.isArray(data) ? data : (data && (data.items || data.hits || data.results)) || [];
        if (!list.length) { results.append(el("li", { class: "empty" }, "未找到相关知识")); return; }
        for (const hit of list) {
          const code = hit.code || hit.ref || String(hit.id || "");
          const text = hit.answer || hit.body || hit.snippet || "";
          results.append(el("li", {}, el("strong", {}, hit.title || code), " ", el("span", { class: "hint" }, code),
            el("div", {}, hit.snippet || text),
            el("button", { type: "button", class: "secondary", onclick: () => {
              ref.value = code;
              answer.focus();
              if (answer.value.trim()) return;
              api("GET", `/api/knowledge/${encodeURIComponent(code)}`).then((article) => {
                if (!answer.value.trim() && article && article.body) answer.value = article.body;
              }).catch((err) => { answer.value = answer.value || `参考知识库“${(hit.title || code).replace(/[【】]/g, "")}”`; });
            } }, "引用此条")));
        }
      } catch (err) {
        results.append(el("li", { class: "msg error" }, err.message));
      }
    };
    input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); run(); } });
    return el("div", { class: "field" }, el("span", { class: "label" }, "知识库"),
      el("div", { class: "row" }, input, el("button", { type: "button", class: "secondary", onclick: run }, "搜索")), results);
  }

  /**
   * Renders a ticket's detail (facts, allowed actions, history) into ``container``.
   * ``opts.onChanged(detail)`` runs after an action succeeded and the detail was reloaded.
   */
  async function renderTicket(container, number, opts = {}) {
    const detail = await api("GET", `/api/tickets/${encodeURIComponent(number)}`);
    clear(container);
    container.dataset.number = detail.number;
    container.dataset.state = detail.state;
    const status = el("div", { class: "msg", role: "status", "aria-live": "polite" });
    const panel = el("div", { class: "action-form" });
    const buttons = el("div", { class: "buttons", role: "group", "aria-label": "可执行操作" });
    for (const action of detail.allowed_actions || []) {
      buttons.append(el("button", { type: "button", class: action === "refuse" ? "secondary" : null,
        "data-action": action, onclick: () => openAction(action) }, ACTION_LABELS[action] || action));
    }
    async function openAction(action) {
      clear(panel);
      const fields = await ACTION_FORMS[action]({ ticket: detail, suggestedUnit: opts.suggestedUnit });
      const formStatus = el("div", { class: "msg", role: "status" });
      const form = el("form", { class: "card", "data-action": action, "aria-label": ACTION_LABELS[action] },
        el("h3", {}, ACTION_LABELS[action] || action), fields, formStatus,
        el("div", { class: "buttons" },
          el("button", { type: "submit" }, `确认${ACTION_LABELS[action] || action}`),
          el("button", { type: "button", class: "secondary", onclick: () => clear(panel) }, "取消")));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const submit = form.querySelector("button[type=submit]");
        submit.disabled = true;
        try {
          const result = await api("POST", `/api/tickets/${encodeURIComponent(detail.number)}/actions/${action}`, bodyOf(action, form));
          const fresh = await renderTicket(container, detail.number, opts);
          const done = container.querySelector(".msg[role=status]");
          if (done) message(done, `已${ACTION_LABELS[action] || action}，当前状态：${fresh.state_label || STATE_LABELS[result.state] || result.state}`, "ok");
          if (opts.onChanged) opts.onChanged(fresh);
        } catch (err) {
          message(formStatus, err.message, "error");
          submit.disabled = false;
        }
      });
      panel.append(form);
      const first = form.querySelector("input, select, textarea, button");
      if (first) first.focus();
    }
    container.append(
      el("h2", {}, `工单 ${detail.number}`),
      ticketFacts(detail),
      el("div", { class: "actions-panel" },
        el("h3", {}, "办理"),
        detail.allowed_actions && detail.allowed_actions.length ? buttons : el("p", { class: "empty" }, "当前状态下您没有可执行的操作"),
        status, panel),
      el("h3", {}, "办理记录"),
      historyTable(detail.history));
    return detail;
  }

  return {
    STATE_LABELS, ACTION_LABELS, APPEAL_LABELS, URGENCY_LABELS, ROLE_LABELS, HOME,
    el, $, clear, show, message, dash, fmtTime, api, qs, ApiError, features, start, toLogin,
    stateBadge, overdueBadge, renderTicket, historyTable, field, optionList,
  };
})();
