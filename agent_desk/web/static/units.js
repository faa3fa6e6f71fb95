/* Choosing units: a code input that suggests units by name or code as the user types (GET /units?q=),
   and the dispatch catalogue's suggestions for a ticket (GET /dispatch/suggest). */

import { api, qs } from "./api.js";
import { clear, el } from "./dom.js";
import { features } from "./features.js";
import { field, nextId } from "./forms.js";

const unitNames = new Map();   // code → name, of every unit seen

async function lookupUnits(q) {
  const f = await features();
  if (!f.units) return [];
  try {
    const data = await api("GET", "/units" + qs({ q: q.slice(0, 32), limit: 20 }));
    const list = Array.isArray(data) ? data : (data && (data.items || data.units)) || [];
    const units = list.map((u) => (typeof u === "string" ? { code: u, name: u } : { code: u.code, name: u.name || u.code }))
      .filter((u) => u.code);
    for (const u of units) unitNames.set(u.code, u.name);
    return units;
  } catch (err) {
    return [];
  }
}

/** A unit picker named ``name``; for several units, chosen ones become removable chips kept in a hidden
    input (comma-separated codes) that a "collect" event completes with a code typed but not yet added. */
export async function unitField(name, label, { multiple = false, required = true } = {}) {
  const f = await features();
  const listId = nextId("units-");
  const datalist = el("datalist", { id: listId });
  const input = el("input", { type: "text", autocomplete: "off", list: f.units ? listId : null, maxlength: 64,
    name: multiple ? null : name, required: required && !multiple, dataset: { unitPicker: name } });
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!f.units || !q) return;
    timer = setTimeout(async () => {
      const units = await lookupUnits(q);
      clear(datalist);
      for (const u of units) datalist.append(el("option", { value: u.code }, u.name));
    }, 200);
  });
  const hint = f.units ? "输入单位名称或编码，从候选中选择" : "填写单位编码";
  if (!multiple) return el("div", {}, field(label, input, hint), datalist);

  const hidden = el("input", { type: "hidden", name });
  const chips = el("div", { class: "chips", "aria-live": "polite" });
  const codes = [];
  const redraw = () => {
    hidden.value = codes.join(",");
    clear(chips);
    for (const code of codes) {
      chips.append(el("span", { class: "badge", "data-code": code }, unitNames.get(code) || code, " ",
        el("button", { type: "button", class: "secondary", "aria-label": `移除 ${code}`, onclick: () => {
          codes.splice(codes.indexOf(code), 1); redraw(); } }, "×")));
    }
  };
  const add = () => {
    for (const code of input.value.split(/[,，、\s]+/).filter(Boolean)) if (!codes.includes(code)) codes.push(code);
    input.value = "";
    redraw();
    input.focus();
  };
  input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); add(); } });
  const wrap = field(label, input, hint + (required ? "；至少添加两家" : "") + "；按回车或“添加”加入");
  wrap.append(el("div", { class: "buttons" }, el("button", { type: "button", class: "secondary", onclick: add }, "添加")), chips);
  hidden.addEventListener("collect", () => { if (input.value.trim()) add(); });
  return el("div", {}, wrap, hidden, datalist);
}

/** The dispatch catalogue's suggestions for ``ticket``: a click fills the form's host unit. */
export function suggestionsBox(ticket) {
  const box = el("div", { class: "suggestions", "aria-live": "polite" }, el("span", { class: "hint" }, "正在获取派单建议…"));
  const params = { number: ticket.number, topic: ticket.topic, subplatform: ticket.subplatform,
    text: `${ticket.title || ""} ${ticket.content || ""}`.slice(0, 500) };
  api("GET", "/dispatch/suggest" + qs(params)).then((data) => {
    const list = Array.isArray(data) ? data : (data && (data.items || data.suggestions)) || [];
    clear(box);
    if (!list.length) { box.append(el("span", { class: "hint" }, "暂无派单建议")); return; }
    box.append(el("div", { class: "label" }, "派单建议（点击填入主办单位）："), el("ul", { class: "plain" }, list.map((s) => {
      const code = s.unit_code || s.code || s.unit || s.host_unit;
      const name = s.unit_name || s.name || code;
      if (code) unitNames.set(code, name);
      return el("li", {}, el("button", { type: "button", class: "secondary", "data-code": code, onclick: (ev) => {
        const input = ev.target.closest("form").querySelector("[data-unit-picker=host_unit]");
        if (input) input.value = code;
      } }, name), " ", el("span", { class: "hint" }, s.why || s.basis || ""));
    })));
  }).catch(() => { clear(box); });
  return box;
}
