/* 登录: POST /api/v1/auth/login sets the HttpOnly session cookie; then each role goes to its own page. */

import { api } from "./api.js";
import { $, el, message } from "./dom.js";
import { HOME } from "./home.js";

const form = $("#login-form");
const error = $("#login-error");

function nextPage(role) {
  const next = new URLSearchParams(location.search).get("next");
  // Only a path on this site (never another origin).
  if (next && /^\/[A-Za-z0-9_\-./?=&%]*$/.test(next) && !next.startsWith("//")) return next;
  return HOME[role] || null;
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    message(error, "请输入用户名和密码", "error");
    (username ? form.password : form.username).focus();
    return;
  }
  const submit = $("#login-submit");
  submit.disabled = true;
  message(error, "", "info");
  try {
    const result = await api("POST", "/auth/login", { username, password }, { redirectOn401: false });
    if (result.must_change_password) {
      askNewPassword(password, result.user.role);
      return;
    }
    const target = nextPage(result.user.role);
    if (!target) {
      message(error, `角色“${result.user.role_label}”没有可用的工作台页面`, "error");
      await api("POST", "/auth/logout", undefined, { redirectOn401: false }).catch(() => {});
      submit.disabled = false;
      return;
    }
    location.href = target;
  } catch (err) {
    let text = err.message;
    if (err.status === 401) text = "用户名或密码错误";
    else if (err.status === 429) text = err.message || "登录失败次数过多，请稍后再试";
    else if (err.status === 422) text = "请输入用户名和密码";
    message(error, text, "error");
    form.password.value = "";
    form.password.focus();
    submit.disabled = false;
  }
});

/** A password an administrator set is temporary: every other page answers 403 until the user sets its own. */
function askNewPassword(current, role) {
  const input = (id, name) => el("input", { type: "password", id, name, autocomplete: "new-password", required: "",
    minlength: "8", maxlength: "256" });
  const problem = el("div", { id: "password-error", class: "msg", role: "alert", "aria-live": "assertive" });
  const change = el("form", { id: "password-form", novalidate: "" },
    el("p", {}, "密码已由管理员设定或重置，请先设置您自己的新密码。"),
    el("div", { class: "field" }, el("label", { for: "new-password" }, "新密码（至少8位）"), input("new-password", "new_password")),
    el("div", { class: "field" }, el("label", { for: "new-password-again" }, "再次输入新密码"), input("new-password-again", "again")),
    problem, el("button", { type: "submit", id: "password-submit" }, "修改密码并进入"));
  form.replaceWith(change);
  change.new_password.focus();
  change.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const fresh = change.new_password.value;
    if (fresh.length < 8) return message(problem, "新密码至少8位", "error");
    if (fresh !== change.again.value) return message(problem, "两次输入的新密码不一致", "error");
    try {
      await api("POST", "/auth/password", { current_password: current, new_password: fresh }, { redirectOn401: false });
      location.href = nextPage(role) || "/";
    } catch (err) {
      message(problem, err.message, "error");
    }
  });
}
