/* 智能建议 on the agent page: the top-3 topics and host units for what the form and the call say so far
   (POST /api/v1/suggestions), each with its confidence as a bar and the words behind it; rules first, marked
   规则. Asked again as the prefill and the conversation grow and as the agent types (debounced); a click puts
   the suggestion into the form (业务分类, 拟派承办单位), which is the agent's from then on. After the ticket is
   saved, what was shown and what was chosen go to POST /api/v1/suggestions/outcomes: its own request, so it
   never holds up or fails the save.

   agent.js owns the form and the call; it tells this panel about them through four calls:
     refresh()         the form or the prefill changed (typing is caught here, from the form's own events)
     turn(turn)        a turn of the live transcript arrived
     saved(number)     a new ticket was saved from this form
     reset()           a new call or an emptied form */

import { api } from "./api.js";
import { $, clear, el, message, show } from "./dom.js";

const TEXT = {
  title: "智能建议",
  topics: "建议分类",
  units: "建议承办单位",
  rule: "规则",
  apply: "采用",
  applied: (what) => `已采用${what}`,
  none: "暂无建议",
  waiting: "输入或转写诉求描述后显示建议",
  source: { model: "来源：学习模型与规则", rules: "来源：规则" },
  version: (v) => `（模型 ${v}）`,
  confidence: (percent) => `${percent}%`,
  because: "依据：",
  failed: "建议暂不可用，不影响登记工单",
};
const DEBOUNCE_MS = 400;
const CITIZEN = "citizen";

/** The panel in ``card`` for ``form`` (the agent page's #ticket-form); ``onAnswer(answer)`` sees each answer shown. */
export function suggestionsPanel(form, card, { onAnswer } = {}) {
  const topicsList = $("[data-list='topics']", card);
  const unitsList = $("[data-list='units']", card);
  const status = $("[data-role='status']", card);
  const applied = $("[data-role='applied']", card);
  let timer = null;
  let asked = 0;            // the number of the newest request: older answers are dropped
  let last = null;          // the answer on screen
  let lastKey = "";
  let chosenUnit = null;    // {code, name} applied into 拟派承办单位
  let said = new Map();     // the citizen's turns, "seq" → text

  function textOf() {
    const f = form.elements;
    // The prefill's title starts with its topic's name (【住房物业】…): not the citizen's words, left out.
    const title = f.title.value.replace(/^【[^】]*】/, "");
    const parts = [title, f.content.value, f.demand.value].map((v) => v.trim()).filter(Boolean);
    const written = parts.join("。");
    for (const text of said.values()) if (text && !written.includes(text)) parts.push(text);
    return parts.join("。");
  }

  function query() {
    const f = form.elements;
    const optional = (v) => (v && v.trim() ? v.trim() : null);
    // The place chosen in the pickers (places.js), when the form has them.
    const picked = (name) => (f[name] ? optional(f[name].value) : null);
    return { text: textOf().slice(0, 20000), subplatform: optional(f.subplatform.value),
      county: picked("place_district"), town: picked("place_town"),
      line: /^\d{3,8}$/.test(f.source_line.value) ? f.source_line.value : null, topic: f.topic.value || "",
      call_id: optional(f.call_id.value) };
  }

  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(ask, DEBOUNCE_MS);
  }

  async function ask() {
    const q = query();
    const key = JSON.stringify(q);
    if (key === lastKey) return;
    lastKey = key;
    const mine = ++asked;
    try {
      const answer = await api("POST", "/suggestions", q);
      if (mine !== asked) return;
      last = answer;
      render(answer);
      if (onAnswer) onAnswer(answer);
    } catch (err) {
      if (mine !== asked) return;
      lastKey = "";
      status.textContent = TEXT.failed;
    }
  }

  function render(answer) {
    show(card, true);
    fill(topicsList, answer.topics, "topic");
    fill(unitsList, answer.units, "unit");
    const notes = answer.notes || [];
    const source = TEXT.source[answer.source] + (answer.model_version ? TEXT.version(answer.model_version) : "");
    status.textContent = [source, ...notes].join("；");
    card.dataset.source = answer.source;
  }

  function fill(list, items, kind) {
    clear(list);
    if (!items.length) {
      list.append(el("li", { class: "empty" }, textOf() ? TEXT.none : TEXT.waiting));
      return;
    }
    items.forEach((item, i) => {
      const percent = item.confidence === null || item.confidence === undefined ? null : Math.round(item.confidence * 100);
      list.append(el("li", { class: "smart-item" + (item.rule ? " rule" : ""), "data-code": item.code,
        "data-rank": String(i + 1), "data-rule": item.rule ? "1" : "0" },
      el("button", { type: "button", class: "secondary smart-apply", "aria-label": `${TEXT.apply}${item.name}`,
        onclick: () => apply(kind, item) }, TEXT.apply),
      el("span", { class: "smart-name" }, item.name),
      item.rule ? el("span", { class: "badge rule" }, TEXT.rule) : null,
      percent === null ? null : el("progress", { class: "smart-bar", max: "100", value: String(percent),
        "aria-label": `置信度 ${percent}%` }),
      percent === null ? null : el("span", { class: "smart-confidence" }, TEXT.confidence(percent)),
      el("div", { class: "hint smart-why", title: item.why },
        item.reasons && item.reasons.length ? TEXT.because + item.reasons.join("、") + "　" : "", item.why)));
    });
  }

  /** 采用: the suggestion goes into its field; the field's change event marks it as the agent's. */
  function apply(kind, item) {
    const control = kind === "topic" ? form.elements.topic : form.elements.suggested_unit;
    control.value = kind === "topic" ? item.code : item.name;
    if (kind === "unit") chosenUnit = { code: item.code, name: item.name };
    control.dispatchEvent(new Event("change", { bubbles: true }));
    message(applied, TEXT.applied(`${kind === "topic" ? TEXT.topics : TEXT.units}“${item.name}”`), "ok");
  }

  function turn(t) {
    if (!t || t.speaker !== CITIZEN || t.status !== "ok" || !t.text) return;
    said.set(String(t.seq), t.text);
    refresh();
  }

  /** What was shown when the ticket was saved and what the agent chose; failures only show as a note. */
  async function saved(number) {
    clearTimeout(timer);
    if (!last || !number) return;
    const shown = (items) => items.map((i) => ({ code: i.code, confidence: i.confidence, rule: i.rule }));
    const unitOnForm = form.elements.suggested_unit.value.trim();
    const body = { ticket: number, source: last.source, model_version: last.model_version || "",
      topics: shown(last.topics), units: shown(last.units),
      unit_chosen: chosenUnit && chosenUnit.name === unitOnForm ? chosenUnit.code : "" };
    try {
      await api("POST", "/suggestions/outcomes", body);
    } catch (err) {
      status.textContent = TEXT.failed;
    }
  }

  function reset() {
    clearTimeout(timer);
    asked++;
    last = null;
    lastKey = "";
    chosenUnit = null;
    said = new Map();
    clear(topicsList);
    clear(unitsList);
    topicsList.append(el("li", { class: "empty" }, TEXT.waiting));
    status.textContent = "";
    message(applied, "", "info");
  }

  for (const kind of ["input", "change"]) {
    form.addEventListener(kind, (ev) => {
      if (ev.target && ["title", "content", "demand", "topic"].includes(ev.target.name)) refresh();
    });
  }
  $("h2", card).textContent = TEXT.title;
  $("[data-heading='topics']", card).textContent = TEXT.topics;
  $("[data-heading='units']", card).textContent = TEXT.units;
  reset();
  return { refresh, turn, saved, reset };
}
