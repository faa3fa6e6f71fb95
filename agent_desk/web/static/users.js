/* 用户管理 (system administrators): every user with its role, unit, extension and state (GET /api/v1/users);
   create one (POST /users, a temporary password generated here and shown once), change its name and extension
   (PATCH /users/{u}), its role and unit (PUT /users/{u}/role), deactivate / reactivate, reset its password, end
   its sessions. Units are chosen by name (GET /units?q=). The server audits every change and has the last word
   on what an administrator may do (it cannot grant 审计员 or 平台管理员, nor change its own account). */

import { api, qs } from "./api.js";
import { $, clear, dash, el, message, show } from "./dom.js";
import { field } from "./forms.js";
import { start } from "./header.js";

// Every word of this page that is not a vocabulary label.
const TEXT = {
  active: "启用", inactive: "已停用", mustChange: "须修改密码", edit: "修改", deactivate: "停用", reactivate: "启用",
  reset: "重置密码", revoke: "使会话失效", save: "保存", close: "关闭", self: "（本人）",
  summary: (n, off) => `共 ${n} 个用户${off ? `，其中 ${off} 个已停用` : ""}`,
  created: (u, pw) => `已新建用户 ${u}。临时密码：${pw}（只显示这一次，请转交本人；首次登录须修改）`,
  resetDone: (u, pw) => `${u} 的密码已重置。临时密码：${pw}（只显示这一次；其会话已全部失效）`,
  revoked: (u, n) => `${u} 的 ${n} 个会话已失效`,
  confirmDeactivate: (name) => `确定停用“${name}”吗？其会话将立即失效，不能再登录。`,
  confirmReset: (name) => `确定重置“${name}”的密码吗？其会话将立即失效。`,
  saved: (name) => `已保存“${name}”的修改`,
  nothing: "没有修改任何内容",
  operatorOnly: "只能由服务器运维人员通过命令行修改",
  need: {
    display_name: "请填写姓名", username: "请填写用户名", role: "请选择角色", unit: "请选择所属单位",
  },
  badUsername: "用户名只能是 2–64 位字母、数字或 _ . -",
  badExtension: "分机号须为 3–8 位数字",
  unknownUnit: (text) => `没有名为“${text}”的单位，请从列表中选择`,
  ambiguousUnit: (text) => `有多个名为“${text}”的单位，请联系运维人员用单位代码设置`,
  editTitle: (u) => `修改用户：${u.display_name}（${u.username}）`,
  nameHint: "工作台上显示的名字（办理记录、坐席列表等）",
  extensionHint: "清空表示解除分机绑定",
  roleChangeHint: "修改角色或单位后，该用户须重新登录",
};

const USERNAME = /^[A-Za-z0-9_.-]{2,64}$/;
const EXTENSION = /^\d{3,8}$/;

const body = $("#users-table tbody");
const status = $("#users-msg");
const panel = $("#user-panel");
const newForm = $("#new-user");
const newStatus = $("#new-user-msg");
let who = null;
let grantable = [];         // [{code, label, needs_unit}]
const unitCodes = new Map();   // unit name → code (or null when several units share the name)

/** A temporary password of 16 characters from the browser's random source (the server still checks it). */
function temporaryPassword() {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

// ── units by name ────────────────────────────────────────────────────────────
async function findUnits(text) {
  const list = await api("GET", "/units" + qs({ q: text, limit: 30 }));
  const options = clear($("#unit-options"));
  const seen = new Map();
  for (const u of list) seen.set(u.name, seen.has(u.name) ? null : u.code);
  for (const [name, code] of seen) {
    unitCodes.set(name, code);
    options.append(el("option", { value: name }));
  }
  return list;
}

function unitInput(input) {
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const text = input.value.trim();
    if (text) timer = setTimeout(() => findUnits(text).catch(() => {}), 200);
  });
}

/** The code of the unit named ``text``; throws a Chinese message when there is none or several. */
async function unitCode(text) {
  if (!unitCodes.has(text)) await findUnits(text);
  if (!unitCodes.has(text)) throw new Error(TEXT.unknownUnit(text));
  const code = unitCodes.get(text);
  if (code === null) throw new Error(TEXT.ambiguousUnit(text));
  return code;
}

// ── the list ─────────────────────────────────────────────────────────────────
async function act(verb, method, url, payload, done) {
  try {
    const result = await api(method, url, payload);
    message(status, done ? done(result) : `${verb}成功`, "ok");
    await load();
    return result;
  } catch (err) {
    message(status, `${verb}失败：${err.message}`, "error");
    return null;
  }
}

function stateOf(u) {
  return el("span", {},
    el("span", { class: u.active ? "badge live" : "badge down" }, u.active ? TEXT.active : TEXT.inactive),
    u.must_change_password ? el("span", { class: "badge open" }, TEXT.mustChange) : null);
}

function actions(u) {
  const base = `/users/${encodeURIComponent(u.username)}`;
  const self = who && u.username === who.username;
  const name = u.display_name || u.username;
  return el("div", { class: "buttons", role: "group", "aria-label": `${name}的操作` },
    el("button", { type: "button", class: "secondary", "data-act": "edit", onclick: () => openEdit(u) }, TEXT.edit),
    u.active
      ? el("button", { type: "button", class: "danger", "data-act": "deactivate", disabled: self || null,
        onclick: () => { if (confirm(TEXT.confirmDeactivate(name))) act(TEXT.deactivate, "POST", `${base}/deactivate`); } },
      TEXT.deactivate)
      : el("button", { type: "button", class: "secondary", "data-act": "reactivate", disabled: self || null,
        onclick: () => act(TEXT.reactivate, "POST", `${base}/reactivate`) }, TEXT.reactivate),
    el("button", { type: "button", class: "secondary", "data-act": "reset",
      onclick: () => { if (confirm(TEXT.confirmReset(name))) act(TEXT.reset, "POST", `${base}/reset-password`, undefined, (r) => TEXT.resetDone(name, r.temporary_password)); } },
    TEXT.reset),
    el("button", { type: "button", class: "secondary", "data-act": "revoke", disabled: !u.open_sessions || null,
      onclick: () => act(TEXT.revoke, "POST", `${base}/revoke-sessions`, undefined, (r) => TEXT.revoked(name, r.revoked)) },
    TEXT.revoke));
}

function row(u) {
  const self = who && u.username === who.username;
  return el("tr", { "data-username": u.username, class: u.active ? null : "inactive" },
    el("td", {}, u.display_name || u.username, self ? el("span", { class: "hint" }, TEXT.self) : null),
    el("td", {}, u.username),
    el("td", {}, u.role_label),
    el("td", {}, dash(u.unit_name)),
    el("td", {}, dash(u.extension)),
    el("td", {}, stateOf(u)),
    el("td", { class: "num" }, String(u.open_sessions)),
    el("td", {}, actions(u)));
}

async function load() {
  try {
    const users = await api("GET", "/users");
    clear(body);
    for (const u of users) body.append(row(u));
    if (!users.length) body.append(el("tr", {}, el("td", { colspan: "8", class: "empty" }, "暂无用户")));
    $("#users-summary").textContent = TEXT.summary(users.length, users.filter((u) => !u.active).length);
  } catch (err) {
    clear(body);
    body.append(el("tr", {}, el("td", { colspan: "8", class: "msg error" }, err.message)));
  }
}

// ── the role and unit controls, shared by the two forms ──────────────────────
function roleOptions(select, current) {
  clear(select);
  select.append(el("option", { value: "" }, "请选择"));
  for (const r of grantable) select.append(el("option", { value: r.code, selected: r.code === current || null }, r.label));
}

const needsUnit = (role) => (grantable.find((r) => r.code === role) || {}).needs_unit === true;

// ── editing a user ───────────────────────────────────────────────────────────
function openEdit(u) {
  clear(panel);
  show(panel, true);
  const formStatus = el("div", { class: "msg", role: "status" });
  const name = el("input", { type: "text", name: "display_name", maxlength: "64", value: u.display_name || "" });
  const extension = el("input", { type: "text", name: "extension", maxlength: "8", inputmode: "numeric", value: u.extension || "" });
  const grantableNow = grantable.some((r) => r.code === u.role);
  const self = who && u.username === who.username;
  const role = el("select", { name: "role", disabled: !grantableNow || self || null });
  roleOptions(role, u.role);
  if (!grantableNow) role.append(el("option", { value: u.role, selected: true }, u.role_label));
  const unit = el("input", { type: "text", name: "unit", maxlength: "128", list: "unit-options", autocomplete: "off",
    value: u.unit_name || "", placeholder: "输入单位名称查找" });
  unitInput(unit);
  const unitField = field("所属单位", unit);
  const syncUnit = () => show(unitField, needsUnit(role.value));
  role.addEventListener("change", syncUnit);
  syncUnit();
  const roleNote = !grantableNow ? `${u.role_label}：${TEXT.operatorOnly}` : (self ? "不能修改自己的角色" : TEXT.roleChangeHint);
  const form = el("form", { class: "user-form", novalidate: true, "aria-label": TEXT.editTitle(u) },
    el("h2", {}, TEXT.editTitle(u)),
    field("姓名", name, TEXT.nameHint), field("分机号", extension, TEXT.extensionHint),
    field("角色", role, roleNote), unitField,
    formStatus,
    el("div", { class: "buttons" },
      el("button", { type: "submit" }, TEXT.save),
      el("button", { type: "button", class: "secondary", onclick: () => { clear(panel); show(panel, false); } }, TEXT.close)));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const profile = {};
    const newName = name.value.trim();
    if (!newName) { message(formStatus, TEXT.need.display_name, "error"); name.focus(); return; }
    if (newName !== u.display_name) profile.display_name = newName;
    const newExt = extension.value.trim();
    if (newExt && !EXTENSION.test(newExt)) { message(formStatus, TEXT.badExtension, "error"); extension.focus(); return; }
    if (newExt !== (u.extension || "")) profile.extension = newExt || null;
    let roleChange = null;
    if (!role.disabled) {
      if (!role.value) { message(formStatus, TEXT.need.role, "error"); role.focus(); return; }
      let unitCodeNow = null;
      if (needsUnit(role.value)) {
        const text = unit.value.trim();
        if (!text) { message(formStatus, TEXT.need.unit, "error"); unit.focus(); return; }
        try { unitCodeNow = text === u.unit_name ? u.unit : await unitCode(text); } catch (err) {
          message(formStatus, err.message, "error"); unit.focus(); return;
        }
      }
      if (role.value !== u.role || (unitCodeNow || null) !== (u.unit || null)) roleChange = { role: role.value, unit: unitCodeNow };
    }
    if (!Object.keys(profile).length && !roleChange) { message(formStatus, TEXT.nothing, "error"); return; }
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const base = `/users/${encodeURIComponent(u.username)}`;
      if (Object.keys(profile).length) await api("PATCH", base, profile);
      if (roleChange) await api("PUT", `${base}/role`, roleChange);
      clear(panel);
      show(panel, false);
      message(status, TEXT.saved(newName), "ok");
      await load();
    } catch (err) {
      message(formStatus, err.message, "error");
    } finally {
      submit.disabled = false;
    }
  });
  panel.append(form);
  panel.scrollIntoView({ block: "nearest" });
  name.focus();
}

// ── creating a user ──────────────────────────────────────────────────────────
async function create(ev) {
  ev.preventDefault();
  const f = newForm.elements;
  const values = { display_name: f.display_name.value.trim(), username: f.username.value.trim(), role: f.role.value,
    extension: f.extension.value.trim() };
  for (const key of ["display_name", "username", "role"]) {
    if (!values[key]) { message(newStatus, TEXT.need[key], "error"); f[key].focus(); return; }
  }
  if (!USERNAME.test(values.username)) { message(newStatus, TEXT.badUsername, "error"); f.username.focus(); return; }
  if (values.extension && !EXTENSION.test(values.extension)) { message(newStatus, TEXT.badExtension, "error"); f.extension.focus(); return; }
  let unit = null;
  if (needsUnit(values.role)) {
    const text = f.unit.value.trim();
    if (!text) { message(newStatus, TEXT.need.unit, "error"); f.unit.focus(); return; }
    try { unit = await unitCode(text); } catch (err) { message(newStatus, err.message, "error"); f.unit.focus(); return; }
  }
  const password = temporaryPassword();
  const submit = $("#new-user-submit");
  submit.disabled = true;   // one click, one user
  try {
    await api("POST", "/users", { username: values.username, display_name: values.display_name, role: values.role,
      unit, extension: values.extension || null, password });
    message(newStatus, TEXT.created(values.username, password), "ok");
    newForm.reset();
    show($("#nu-unit-field"), false);
    await load();
  } catch (err) {
    message(newStatus, err.message, "error");
  } finally {
    submit.disabled = false;
  }
}

async function init() {
  try {
    who = await start(["admin"]);
  } catch (err) {
    return;
  }
  try {
    grantable = await api("GET", "/user-roles");
  } catch (err) {
    message(status, err.message, "error");
  }
  roleOptions(newForm.elements.role, "");
  newForm.elements.role.addEventListener("change", () => show($("#nu-unit-field"), needsUnit(newForm.elements.role.value)));
  unitInput(newForm.elements.unit);
  newForm.addEventListener("submit", create);
  $("#users-refresh").addEventListener("click", load);
  await load();
}

init();
