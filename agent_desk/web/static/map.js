/* 海南省市县分布图: a schematic tile map of the 19 divisions (hainan-divisions.js), each tile coloured by a
   figure (受理量, or a rate) and labelled with its name and value; a click (or Enter / Space on a focused tile)
   calls onSelect(code, name). Tiles with no data in the period are drawn but not clickable (nothing to drill
   into). The map says on its face that it is a schematic (示意图), not a boundary map.

   draw(container, values, opts)
     values: Map code → {value: number|null, text: string, title?: string}
     opts: {title, selected: code|null, onSelect(code, name), legend: [low text, high text], fit}
   Everything is set as text, never parsed as markup; colours are SVG attributes (the CSP allows no inline
   styles). */

import { DIVISIONS } from "./hainan-divisions.js";

const NS = "http://www.w3.org/2000/svg";
const TEXT = {
  schematic: "示意图：各市县按相对位置排布，不表示实际边界",
  inset: "南海诸岛",
  noData: "本期无数据",
  drill: "点击查看该市县",
};
// Low → high: from the card's dark blue to a bright yellow (readable on the dark wall theme); no data is grey.
const LOW = [31, 77, 122], HIGH = [255, 209, 102];
export const NO_DATA = "#3a4656";

function svg(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.appendChild(document.createTextNode(String(text)));
  return node;
}

/** The fill of a share t in [0, 1] of the range, and a text colour that reads on it. */
export function shade(t) {
  const mix = LOW.map((low, i) => Math.round(low + (HIGH[i] - low) * Math.min(1, Math.max(0, t))));
  const luminance = (0.299 * mix[0] + 0.587 * mix[1] + 0.114 * mix[2]) / 255;
  return { fill: `rgb(${mix.join(",")})`, ink: luminance > 0.55 ? "#0b1726" : "#f5f8fc" };
}

export function draw(container, values, opts = {}) {
  container.replaceChildren();
  const cols = Math.max(...DIVISIONS.map((d) => d.x)) + 1;
  const rows = Math.max(...DIVISIONS.map((d) => d.y)) + 1;
  const box = opts.fit ? container.getBoundingClientRect() : { width: 0, height: 0 };
  const caption = 34 + (opts.legend && opts.fit ? 30 : 0);   // the schematic note, and the legend under the map
  const unit = Math.max(60, Math.floor(Math.min((box.width || cols * 96) / cols,
    ((box.height || rows * 96 + caption) - caption) / rows)));
  const width = Math.round(cols * unit), height = Math.round(rows * unit + 34);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart map", role: "group" });
  if (opts.fit) root.classList.add("fit");
  root.setAttribute("aria-label", opts.title || "海南省市县分布");
  const present = [...values.values()].map((v) => v.value).filter((v) => typeof v === "number" && Number.isFinite(v));
  const lo = present.length ? Math.min(...present) : 0, hi = present.length ? Math.max(...present) : 0;
  const gap = Math.max(3, Math.round(unit * 0.06));
  const nameSize = Math.round(unit * 0.24), valueSize = Math.round(unit * 0.2);
  for (const division of DIVISIONS) {
    const entry = values.get(division.code);
    const has = entry && typeof entry.value === "number" && Number.isFinite(entry.value);
    const t = has ? (hi > lo ? (entry.value - lo) / (hi - lo) : 1) : 0;
    const { fill, ink } = has ? shade(t) : { fill: NO_DATA, ink: "#c3ccd8" };
    const x = division.x * unit, y = division.y * unit;
    const clickable = Boolean(has && entry.drill !== false && opts.onSelect);
    const tile = svg("g", { class: "map-tile", "data-code": division.code, "data-name": division.name,
      "data-fill": fill });
    if (division.inset) tile.classList.add("inset");
    if (opts.selected === division.code) tile.classList.add("selected");
    const label = `${division.name} ${has ? entry.text : TEXT.noData}`;
    tile.appendChild(svg("title", {}, entry && entry.title ? `${division.name}：${entry.title}` : label));
    tile.appendChild(svg("rect", { x: x + gap, y: y + gap, width: unit - 2 * gap, height: unit - 2 * gap,
      rx: Math.round(unit * 0.12), fill, class: "map-cell", "stroke-dasharray": division.inset ? "6 4" : "none" }));
    tile.appendChild(svg("text", { x: x + unit / 2, y: y + unit * 0.47, "text-anchor": "middle", fill: ink,
      "font-size": nameSize, class: "map-name" }, division.name));
    tile.appendChild(svg("text", { x: x + unit / 2, y: y + unit * 0.47 + valueSize * 1.25, "text-anchor": "middle",
      fill: ink, "font-size": valueSize, class: "map-value" }, has ? entry.text : "—"));
    if (division.inset) {
      tile.appendChild(svg("text", { x: x + unit / 2, y: y + unit - gap - 4, "text-anchor": "middle", fill: ink,
        "font-size": Math.round(valueSize * 0.7), class: "map-note" }, TEXT.inset));
    }
    if (clickable) {
      tile.classList.add("clickable");
      tile.setAttribute("role", "button");
      tile.setAttribute("tabindex", "0");
      tile.setAttribute("aria-label", `${label}，${TEXT.drill}`);
      const select = () => opts.onSelect(division.code, entry.name || division.name);
      tile.addEventListener("click", select);
      tile.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(); }
      });
    } else {
      tile.setAttribute("aria-label", label);
    }
    root.appendChild(tile);
  }
  root.appendChild(svg("text", { x: 4, y: height - 10, class: "chart-axis map-caption" }, TEXT.schematic));
  container.appendChild(root);
  if (opts.legend) {
    const scale = document.createElement("div");
    scale.className = "map-legend";
    const [low, high] = opts.legend;
    const bar = svg("svg", { viewBox: "0 0 100 10", class: "map-scale", "aria-hidden": "true",
      preserveAspectRatio: "none" });
    for (let i = 0; i < 10; i++) bar.appendChild(svg("rect", { x: i * 10, y: 0, width: 10.5, height: 10, fill: shade(i / 9).fill }));
    scale.append(document.createTextNode(low), bar, document.createTextNode(high));
    container.appendChild(scale);
  }
  return root;
}
