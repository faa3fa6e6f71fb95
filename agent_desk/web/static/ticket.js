/* A ticket's detail page section: facts, the actions this user may take (each opening its form), history. */

import { api } from "./api.js";
import { clear, el, message } from "./dom.js";
import { applyLimits, checkForm, loadLimits, MESSAGES } from "./forms.js";
import { actionFields, bodyOf } from "./ticket-actions.js";
import { historyTable, ticketFacts } from "./ticket-view.js";
import { label } from "./vocab.js";

/**
 * Renders ticket ``number`` into ``container``; resolves to its detail.
 * opts.suggestedUnit: shown in the dispatch form; opts.onChanged(detail) runs after an action succeeded
 * and the detail was reloaded.
 */
export async function renderTicket(container, number, opts = {}) {
  const detail = await api("GET", `/tickets/${encodeURIComponent(number)}`);
  clear(container);
  container.dataset.number = detail.number;
  container.dataset.state = detail.state;
  const status = el("div", { class: "msg", role: "status", "aria-live": "polite" });
  const panel = el("div", { class: "action-form" });
  const buttons = el("div", { class: "buttons", role: "group", "aria-label": "可执行操作" });
  for (const action of detail.allowed_actions || []) {
    buttons.append(el("button", { type: "button", class: action === "refuse" ? "secondary" : null,
      "data-action": action, onclick: () => openAction(action) }, label("actions", action)));
  }

  async function openAction(action) {
    clear(panel);
    const name = label("actions", action);
    const fields = await actionFields(action, { ticket: detail, suggestedUnit: opts.suggestedUnit });
    const formStatus = el("div", { class: "msg", role: "status" });
    const form = el("form", { class: "card", "data-action": action, "aria-label": name, novalidate: true },
      el("h3", {}, name), fields, formStatus,
      el("div", { class: "buttons" },
        el("button", { type: "submit" }, `确认${name}`),
        el("button", { type: "button", class: "secondary", onclick: () => clear(panel) }, "取消")));
    try {
      applyLimits(form, ((await loadLimits()).actions || {})[action]);
    } catch (err) {
      message(formStatus, err.message, "error");   // the server still refuses what is too long
    }
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const problems = checkForm(form);
      if (problems.length) { message(formStatus, MESSAGES.summary(problems.length), "error"); return; }
      message(formStatus, "", "info");
      const submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      try {
        const result = await api("POST", `/tickets/${encodeURIComponent(detail.number)}/actions/${action}`, bodyOf(action, form));
        const fresh = await renderTicket(container, detail.number, opts);
        const done = container.querySelector(".msg[role=status]");
        if (done) message(done, `已${name}，当前状态：${fresh.state_label || label("ticket_states", result.state)}`, "ok");
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
