/* 地点选择 on the ticket form: 市县 → 区 → 镇 as pickers over the org tree (GET /units: the sub-platforms, then
   the chosen one's districts and towns). The chosen 市县 goes into the form's ``subplatform`` and the most precise
   place chosen (镇, else 区, else 市县) into ``location_unit``: the ticket's place, so it is counted under its city
   and its dispatch suggestion uses that city's units.

   The pop's prefill pre-selects: its sub-platform and the places the caller named. Like every field of the form,
   a picker the agent has changed is the agent's: a later prefill leaves it alone.

   Towns are listed per 市县: the gazetteer does not say which district each town belongs to. */

import { api, qs } from "./api.js";
import { clear, el } from "./dom.js";

const TEXT = {
  city: "所属市县",
  district: "区",
  town: "乡镇",
  any: "请选择",
  none: "（无）",
  failed: "地点列表暂不可用，可在“地点”中填写",
};

/**
 * The pickers, inserted into ``box``, for ``form`` (which has hidden inputs ``subplatform`` and
 * ``location_unit``); ``onChange`` runs after each change. Returns { ready, prefill(pop), reset(subplatform),
 * set(subplatform, unit), name(code) }.
 */
export function placePickers(form, box, onChange) {
  const make = (name, label) => {
    const select = el("select", { id: `place-${name}`, name: `place_${name}`, "data-place": name });
    return { select, field: el("div", { class: "field" }, el("label", { for: select.id }, label), select) };
  };
  const city = make("city", TEXT.city);
  const district = make("district", TEXT.district);
  const town = make("town", TEXT.town);
  const status = el("div", { class: "msg", role: "status" });
  box.append(el("div", { class: "row places" }, city.field, district.field, town.field), status);

  const units = new Map();       // code → unit (of the cities loaded and the chosen city's districts and towns)
  let mine = new Set();        // pickers the agent changed itself
  let loaded = "";             // the city whose districts and towns are in the pickers
  let fallback = "";           // the call's sub-platform, kept when its city is not in the list

  // Districts and towns in pinyin order (what an agent scans for), not by code; 市县 keep the division codes' order.
  const pinyin = new Intl.Collator("zh-CN");
  const options = (select, items, first, sorted = true) => {
    clear(select).append(el("option", { value: "" }, first));
    const shown = sorted ? [...items].sort((a, b) => pinyin.compare(a.name, b.name)) : items;
    for (const u of shown) select.append(el("option", { value: u.code }, u.name));
  };

  async function list(params) {
    const found = await api("GET", "/units" + qs({ ...params, limit: 500 }));
    for (const u of found) units.set(u.code, u);
    return found;
  }

  async function loadCity(code) {
    if (code === loaded) return;
    loaded = code;
    options(district.select, [], TEXT.any);
    options(town.select, [], TEXT.any);
    if (!code) return;
    try {
      const [districts, towns] = await Promise.all([list({ kind: "district", subplatform: code }),
        list({ kind: "town", subplatform: code })]);
      if (loaded !== code) return;
      options(district.select, districts, districts.length ? TEXT.any : TEXT.none);
      options(town.select, towns, towns.length ? TEXT.any : TEXT.none);
    } catch (err) {
      status.textContent = TEXT.failed;
    }
  }

  /** The form's hidden place fields from the pickers; tells the panels (duplicates, suggestions). */
  function store() {
    form.elements.subplatform.value = city.select.value || (mine.has("city") ? "" : fallback);
    const unit = form.elements.location_unit;
    unit.value = town.select.value || district.select.value || city.select.value;
    unit.dispatchEvent(new Event("input", { bubbles: true }));
    if (onChange) onChange();
  }

  city.select.addEventListener("change", async () => {
    mine.add("city").add("district").add("town");
    await serial(async () => { await loadCity(city.select.value); store(); });
  });
  district.select.addEventListener("change", () => { mine.add("district"); store(); });
  town.select.addEventListener("change", () => { mine.add("town"); store(); });

  const ready = (async () => {
    try {
      options(city.select, await list({ kind: "subplatform" }), TEXT.any, false);
    } catch (err) {
      options(city.select, [], TEXT.any);
      status.textContent = TEXT.failed;
    }
  })();

  // One change at a time: a new call's reset, then its prefill, then the prefill's updates.
  let queue = ready;
  const serial = (fn) => (queue = queue.then(fn, fn));

  const pick = (picker, name) => {
    const option = Array.from(picker.select.options).find((o) => o.value && o.textContent === name);
    if (option) picker.select.value = option.value;
    return Boolean(option);
  };

  /** The prefill's places: the city of the first place the caller named (where the matter is), else the call's
      sub-platform (the line's city); then a named district and town of that city. */
  const prefill = (pop) => serial(() => prefillNow(pop));
  async function prefillNow({ subplatform, places }) {
    places = places || [];
    if (!mine.has("city")) {
      const code = (places.find((p) => p.city_code) || {}).city_code || subplatform || "";
      if (code && Array.from(city.select.options).some((o) => o.value === code)) {
        city.select.value = code;
        await loadCity(code);
      }
    }
    const here = places.filter((p) => !city.select.value || p.city_code === city.select.value);
    if (!mine.has("district")) for (const p of here.filter((p) => p.level === "district")) if (pick(district, p.name)) break;
    if (!mine.has("town")) for (const p of here.filter((p) => p.level === "town")) if (pick(town, p.name)) break;
    store();
  }

  /** A new call (its line's sub-platform) or an emptied form: nothing chosen by the agent. */
  const reset = (subplatform) => serial(async () => {
    mine = new Set();
    fallback = subplatform || "";
    city.select.value = "";
    await loadCity("");
    await prefillNow({ subplatform, places: [] });
  });

  /** Pickers set from a saved ticket (edit after save): its sub-platform and place unit. */
  const set = (subplatform, unitCode) => serial(async () => {
    city.select.value = subplatform || "";
    await loadCity(city.select.value);
    const has = (picker) => Array.from(picker.select.options).some((o) => o.value && o.value === unitCode);
    if (has(town)) town.select.value = unitCode;
    else if (has(district)) district.select.value = unitCode;
    store();
  });

  return { ready, prefill, reset, set, name: (code) => (units.get(code) || {}).name || "" };
}
