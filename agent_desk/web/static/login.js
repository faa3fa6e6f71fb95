/* 登录: POST /api/v1/auth/login sets the HttpOnly session cookie; then each role goes to its own page. */

import { api } from "./api.js";
import { $, message } from "./dom.js";
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
