/* 可能重复的诉求 (并单) on the agent's page: while the agent writes a new ticket, the open tickets about the same
   matter (same place, accepted in the last days, similar content, any caller) are listed; the agent may choose
   one, and the ticket is then merged into it when saved. Advisory only: an error here never blocks the save. */

import { api } from "./api.js";
import { clear, el, message, show } from "./dom.js";
import { fmtTime } from "./time.js";

const TEXT = {
  title: "可能重复的诉求",
  explain: (days) => `地点相同、近${days}天内受理、内容相似的在办工单（不限来电人）。并单后本工单不再单独派单办理，`
    + "主工单的答复同样告知本市民，并为本市民单独回访。",
  none: "未发现可能重复的诉求。",
  choose: "保存并并入此工单",
  chosen: (number) => `保存时本工单将并入工单 ${number}（并单）。`,
  cancel: "取消并单",
  score: (score) => `相似度 ${Math.round(score * 100)}%`,
  shared: "共同词语：",
  masked: "（已脱敏）",
  saved: (number, host) => `工单已保存，编号 ${number}，已并入工单 ${host}（并单）`,
  notMerged: (number, why) => `工单已保存，编号 ${number}；未能并单：${why}`,
};
const MIN_TEXT = 4;        // characters of title + content before asking
const DEBOUNCE_MS = 600;

/**
 * Watches ``form`` (fields title, content, subplatform, and location_unit if present) and renders the
 * candidates into ``box``. Returns { chosen(): number|null, reset(), check(): Promise, savedText(result) }.
 */
export function watchDuplicates(form, box) {
  let chosen = null;
  let timer = null;
  let asked = "";
  let seq = 0;
  const status = el("div", { class: "msg", role: "status", "aria-live": "polite" });
  const banner = el("div", { class: "msg info", id: "merge-banner", hidden: true });
  const list = el("ul", { class: "plain tickets", id: "duplicate-list", "aria-label": TEXT.title });
  const hint = el("p", { class: "hint" });
  const section = el("section", { class: "duplicates", id: "duplicates-panel", "aria-labelledby": "duplicates-title", hidden: true },
    el("h3", { id: "duplicates-title" }, TEXT.title), hint, banner, list, status);
  box.append(section);

  const value = (name) => (form.elements[name] ? form.elements[name].value.trim() : "");

  function query() {
    // The form keeps over-long text (refused on 保存, never cut); the finder is asked within the API's limits.
    const upTo = (text, max) => Array.from(text).slice(0, max).join("");
    const q = { title: upTo(value("title"), 128), content: upTo(value("content"), 20000),
      subplatform: value("subplatform") || null };
    if (value("location_unit")) q.location_unit = value("location_unit");
    return q;
  }

  function choose(item) {
    chosen = item ? item.number : null;
    clear(banner);
    if (chosen) banner.append(TEXT.chosen(chosen), " ", el("button", { type: "button", class: "secondary", onclick: () => choose(null) }, TEXT.cancel));
    show(banner, Boolean(chosen));
    for (const button of list.querySelectorAll("button[data-merge]")) button.setAttribute("aria-pressed", String(button.dataset.merge === chosen));
  }

  function render(answer) {
    clear(list);
    hint.textContent = answer.note || TEXT.explain(answer.window_days);
    if (chosen && !answer.items.some((item) => item.number === chosen)) choose(null);
    if (!answer.items.length) {
      list.append(el("li", { class: "empty" }, answer.note ? "" : TEXT.none));
      return;
    }
    for (const item of answer.items) {
      list.append(el("li", { "data-number": item.number },
        el("span", { class: "badge state", "data-state": item.state }, item.state_label),
        el("strong", {}, item.number),
        el("span", { class: "title" }, item.title),
        el("span", { class: "hint" }, [item.place, item.location].filter(Boolean).join(" ")),
        el("span", { class: "hint" }, fmtTime(item.created_at)),
        el("span", { class: "badge" }, TEXT.score(item.score)),
        item.reasons.length ? el("span", { class: "hint" }, TEXT.shared + item.reasons.join("、")) : null,
        el("span", { class: "hint" }, `${item.citizen_name} ${item.citizen_phone}${item.contact_masked ? TEXT.masked : ""}`),
        el("button", { type: "button", "data-merge": item.number, "aria-pressed": String(item.number === chosen),
          onclick: () => choose(item) }, TEXT.choose)));
    }
  }

  async function check() {
    const q = query();
    const key = JSON.stringify(q);
    if ((q.title + q.content).length < MIN_TEXT || key === asked) return;
    asked = key;
    const mine = ++seq;
    try {
      const answer = await api("POST", "/tickets/duplicates", q);
      if (mine !== seq) return;   // a newer question is on its way
      message(status, "", "info");
      render(answer);
      show(section, true);
    } catch (err) {
      if (mine !== seq) return;
      message(status, err.message, "error");
      show(section, true);
    }
  }

  form.addEventListener("input", (ev) => {
    if (!["title", "content", "location_unit"].includes(ev.target.name)) return;
    clearTimeout(timer);
    timer = setTimeout(check, DEBOUNCE_MS);
  });
  // What was typed while the page was still loading (before this listener) is asked about too.
  timer = setTimeout(check, DEBOUNCE_MS);

  return {
    chosen: () => chosen,
    check,
    reset() {
      clearTimeout(timer);
      asked = "";
      seq += 1;
      choose(null);
      clear(list);
      message(status, "", "info");
      show(section, false);
    },
    /** The save's message when a merge was asked for (null otherwise). */
    savedText(result) {
      if (result.merged_into) return TEXT.saved(result.number, result.merged_into);
      if (result.merge_error) return TEXT.notMerged(result.number, result.merge_error);
      return null;
    },
  };
}
