/* Labelled form fields and option lists. */

import { el } from "./dom.js";

let uid = 0;

/** A fresh id for a control. */
export const nextId = (prefix) => `${prefix || "f"}${++uid}`;

/** ``control`` with its label and an optional hint (aria-describedby). */
export function field(label, control, hint) {
  const id = control.id || nextId("f");
  control.id = id;
  const hintNode = hint ? el("span", { class: "hint", id: id + "-hint" }, hint) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  if (control.type === "checkbox") return el("div", { class: "field check" }, control, el("label", { for: id }, label), hintNode);
  return el("div", { class: "field" }, el("label", { for: id }, label), control, hintNode);
}

/** <option>s of a vocabulary table (code → label), after a first empty choice. */
export function optionList(labels, placeholder) {
  return [el("option", { value: "" }, placeholder || "请选择"),
    ...Object.entries(labels).map(([value, text]) => el("option", { value }, text))];
}
