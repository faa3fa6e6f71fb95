/* Labelled form fields, option lists, and the desk's own validation (every form is ``novalidate``: the browser's
   bubbles speak the browser's language; these messages are the desk's, in Chinese, defined here once).

   Length limits come from the server (GET /api/v1/limits, the request models' own numbers): a field shows how much
   it holds as people type, and longer text is refused with a message, never cut (no ``maxlength``). */

import { api } from "./api.js";
import { el } from "./dom.js";

export const MESSAGES = {
  required: (label) => `请填写${label}`,
  choose: (label) => `请选择${label}`,
  tooLong: (label, max, used) => `${label}不能超过 ${max} 字（现有 ${used} 字，请删减 ${used - max} 字）`,
  count: (used, max) => `${used}/${max} 字`,
  over: (used, max) => `${used}/${max} 字，超出 ${used - max} 字`,
  summary: (n) => `有 ${n} 处需要修改，请按提示填写`,
  requiredMark: "必填",
};

let uid = 0;

/** A fresh id for a control. */
export const nextId = (prefix) => `${prefix || "f"}${++uid}`;

/** ``control`` with its label and an optional hint (aria-describedby); a required control's label is marked. */
export function field(label, control, hint) {
  const id = control.id || nextId("f");
  control.id = id;
  const hintNode = hint ? el("span", { class: "hint", id: id + "-hint" }, hint) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  control.dataset.label = label;
  const mark = control.required ? el("span", { class: "req", title: MESSAGES.requiredMark, "aria-hidden": "true" }, "*") : null;
  if (control.type === "checkbox") return el("div", { class: "field check" }, control, el("label", { for: id }, label), hintNode);
  return el("div", { class: "field" + (control.required ? " required" : "") }, el("label", { for: id }, label, mark),
    control, hintNode);
}

/** <option>s of a vocabulary table (code → label), after a first empty choice. */
export function optionList(labels, placeholder) {
  return [el("option", { value: "" }, placeholder || "请选择"),
    ...Object.entries(labels).map(([value, text]) => el("option", { value }, text))];
}

// ── length limits ────────────────────────────────────────────────────────────
let limitsLoading = null;

/** The server's length limits (GET /limits), loaded once per page. */
export function loadLimits() {
  if (!limitsLoading) {
    limitsLoading = api("GET", "/limits").catch((err) => { limitsLoading = null; throw err; });
  }
  return limitsLoading;
}

/** A live counter under ``control`` ("12/2000 字"; over the limit it says by how much): the text is never cut. */
export function countChars(control, max) {
  control.removeAttribute("maxlength");
  control.dataset.max = String(max);
  let counter = control.parentNode && control.parentNode.querySelector(`[data-counter-for="${control.id}"]`);
  if (!counter) {
    if (!control.id) control.id = nextId("f");
    counter = el("span", { class: "hint counter", id: `${control.id}-count`, "data-counter-for": control.id, "aria-live": "polite" });
    control.after(counter);
    control.setAttribute("aria-describedby", [control.getAttribute("aria-describedby"), counter.id].filter(Boolean).join(" "));
    control.addEventListener("input", () => update(control, counter));
  }
  update(control, counter);
}

function update(control, counter) {
  const max = Number(control.dataset.max);
  const used = [...control.value].length;
  counter.textContent = used > max ? MESSAGES.over(used, max) : MESSAGES.count(used, max);
  counter.classList.toggle("over", used > max);
}

/** Brings the counters under ``root`` up to date after its fields were set by code (input events cover typing). */
export function recount(root) {
  for (const counter of root.querySelectorAll("[data-counter-for]")) {
    const control = document.getElementById(counter.dataset.counterFor);
    if (control) update(control, counter);
  }
}

/** Counters on the controls of ``root`` named in ``limits`` (field name → max characters). */
export function applyLimits(root, limits) {
  for (const [name, max] of Object.entries(limits || {})) {
    for (const control of root.querySelectorAll(`[name="${name}"]`)) {
      if (control.tagName === "TEXTAREA" || (control.tagName === "INPUT" && ["text", "search", ""].includes(control.type))) {
        countChars(control, max);
      }
    }
  }
}

// ── validation ───────────────────────────────────────────────────────────────
function labelOf(control) {
  if (control.dataset.label) return control.dataset.label;
  const label = control.id && document.querySelector(`label[for="${control.id}"]`);
  return label ? label.firstChild.textContent.trim() : control.name;
}

function problemOf(control) {
  if (control.disabled || !control.name || control.type === "hidden") return null;
  const value = control.type === "checkbox" ? control.checked : control.multiple
    ? control.selectedOptions.length : control.value.trim();
  if (control.required && !value) return control.tagName === "SELECT" ? MESSAGES.choose(labelOf(control)) : MESSAGES.required(labelOf(control));
  const max = Number(control.dataset.max);
  const used = typeof control.value === "string" ? [...control.value].length : 0;
  if (max && used > max) return MESSAGES.tooLong(labelOf(control), max, used);
  return null;
}

/** Clears the marks a previous check left on ``form``. */
export function clearProblems(form) {
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    const kept = (control.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && !id.endsWith("-error"));
    if (kept.length) control.setAttribute("aria-describedby", kept.join(" "));
    else control.removeAttribute("aria-describedby");
  }
}

/**
 * Checks ``form`` with the desk's rules (required, length): each problem is written under its field in Chinese and
 * the first one gets the focus. Returns the messages (empty: the form may be sent).
 */
export function checkForm(form) {
  clearProblems(form);
  const problems = [];
  for (const control of form.elements) {
    const problem = problemOf(control);
    if (!problem) continue;
    problems.push(problem);
    const note = el("span", { class: "field-error", id: `${control.id || nextId("f")}-error`, role: "alert" }, problem);
    control.setAttribute("aria-invalid", "true");
    const place = control.closest(".field") || control.parentNode;
    place.append(note);
    control.setAttribute("aria-describedby", [control.getAttribute("aria-describedby"), note.id].filter(Boolean).join(" "));
    if (problems.length === 1) control.focus();
  }
  return problems;
}
