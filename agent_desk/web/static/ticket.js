/* A ticket's detail page section: facts, the actions this user may take (each opening its form), history. */

import { api } from "./api.js";
import { clear, el, message } from "./dom.js";
import { applyLimits, checkForm, loadLimits, MESSAGES } from "./forms.js";
import { actionFields, bodyOf } from "./ticket-actions.js";
import { callControl, callEvents, signedIn, TEXT as CALL_TEXT } from "./ticket-call.js";
import { historyTable, ticketFacts } from "./ticket-view.js";
import { label } from "./vocab.js";

/**
 * Renders ticket ``number`` into ``container``; resolves to its detail.
 * opts.suggestedUnit: shown in the dispatch form; opts.onChanged(detail) runs after an action succeeded
 * and the detail was reloaded; opts.openAction: an action whose form opens at once when it is allowed (the 回访
 * page opens the verdict form).
 */
export async function renderTicket(container, number, opts = {}) {
  const detail = await api("GET", `/tickets/${encodeURIComponent(number)}`);
  const who = await signedIn();
  let calls = [];
  let callsFailed = null;
  try {
    calls = await callEvents(detail.number, who);
  } catch (err) {
    callsFailed = CALL_TEXT.callsFailed + err.message;   // the ticket is still shown; its calls are said missing
  }
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

  const call = callControl(detail, who, async (ended) => {
    const fresh = await renderTicket(container, detail.number, opts);
    const note = container.querySelector("#ticket-call-msg");
    if (note) message(note, CALL_TEXT.result(ended.outcome_label || CALL_TEXT.status.ended), "ok");
    if (opts.onChanged) opts.onChanged(fresh);
  });
  const history = [...(detail.history || []), ...calls].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  container.append(...[
    el("h2", {}, `工单 ${detail.number}`),
    ticketFacts(detail),
    call,
    el("div", { class: "actions-panel" },
      el("h3", {}, "办理"),
      detail.allowed_actions && detail.allowed_actions.length ? buttons : el("p", { class: "empty" }, "当前状态下您没有可执行的操作"),
      status, panel),
    el("h3", {}, "办理记录"),
    callsFailed ? el("p", { class: "msg error", role: "alert" }, callsFailed) : null,
    historyTable(history)].filter(Boolean));
  if (opts.openAction && (detail.allowed_actions || []).includes(opts.openAction)) await openAction(opts.openAction);
  return detail;
}
