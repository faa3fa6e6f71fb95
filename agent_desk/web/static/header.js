/* The page header of every signed-in page: navigation by role, who is signed in, 退出登录. */

import { api, ApiError } from "./api.js";
import { $, clear, el } from "./dom.js";
import { HOME } from "./home.js";
import { label, loadVocab } from "./vocab.js";

const NAV = {
  agent: [["/agent.html", "坐席工作台"], ["/revisits.html", "回访工作台"], ["/search.html", "工单查询"]],
  supervisor: [["/supervisor.html", "我的待办"], ["/revisits.html", "回访工作台"], ["/campaigns.html", "智能回访"],
    ["/search.html", "工单查询"], ["/views.html", "观管评"], ["/report.html", "报表"],
    ["/agents.html", "坐席管理"], ["/wallboard.html", "实时监控"]],
  admin: [["/users.html", "用户管理"], ["/views.html", "观管评"], ["/report.html", "报表"]],
  unit: [["/unit.html", "待办工单"], ["/search.html", "工单查询"]],
};

async function logout() {
  try { await api("POST", "/auth/logout", undefined, { redirectOn401: false }); } catch (err) { /* gone anyway */ }
  location.href = "/";
}

function draw(who) {
  const header = clear($("#topbar"));
  const links = (NAV[who.role] || []).map(([href, text]) =>
    el("li", {}, el("a", { href, "aria-current": location.pathname === href ? "page" : null }, text)));
  const role = who.role_label || label("roles", who.role);
  header.append(
    el("h1", {}, "12345 政务服务便民热线"),
    el("nav", { "aria-label": "主导航" }, el("ul", {}, links)),
    el("div", { class: "who" },
      el("span", { id: "whoami" }, `${who.display_name || who.username}（${role}${who.unit ? " · " + (who.unit_name || who.unit) : ""}）`),
      el("button", { type: "button", id: "logout", onclick: logout }, "退出登录")));
}

function refuse(who) {
  const main = clear($("main"));
  main.append(el("div", { class: "card" },
    el("p", { class: "msg error", role: "alert" }, "当前角色无权使用此页面。"),
    HOME[who.role] ? el("a", { href: HOME[who.role] }, "前往我的首页") : null));
}

/**
 * The signed-in user (GET /me), with the header drawn and the vocabulary loaded; not signed in goes to the
 * login page. A role not in ``allowedRoles`` sees a notice instead of the page (and the promise rejects).
 */
export async function start(allowedRoles) {
  const who = await api("GET", "/me");
  await loadVocab();
  draw(who);
  if (allowedRoles && !allowedRoles.includes(who.role)) {
    refuse(who);
    throw new ApiError(403, "forbidden_role", "当前角色无权使用此页面");
  }
  return who;
}
