/* 12345 坐席工作台: small SVG charts for the supervisors' pages (no library, nothing from the network).
   Every label is set as text (createTextNode), never parsed as markup. The strict CSP allows no inline
   styles, so colours are SVG presentation attributes and layout uses classes from desk.css / wall.css.

   bars(container, items, opts)   horizontal bars; items: [{label, value, note?, tone?}]
   columns(container, labels, series, opts)  grouped columns; series: [{name, values, tone?}]
   line(container, labels, series, opts)     lines over labels (trends by day/week/month)
   gauge(container, ratio, opts)             a half-circle gauge for one rate in [0, 1]
   donut(container, items, opts)             shares of a whole; items: [{label, value, tone?}]
   opts: {title, format(value) -> text, max, height, width, integer, fit, empty}
   A value of null in a series is a bucket with nothing to draw (a day still to come): no point, no column,
   and the line breaks there, so the future is never drawn as 0.
   opts.fit: size the drawing to the container (1 unit = 1 CSS pixel, so the type keeps its CSS size on a wall
   screen or a laptop instead of shrinking with the viewBox; the default on a page in 大屏 mode, html.wall); opts.integer: a count (axis ticks are whole numbers; by
   default, when every value is whole); opts.empty: what an empty chart says (why it is empty).
   Every call replaces what the container held, so pages simply redraw on each update. */
const NS = "http://www.w3.org/2000/svg";

/* The palette, defined once for every page (观管评, 实时监控, 报表): categorical tones for series and shares,
   and one colour per state (a state keeps its colour on every page and every widget that shows it). Tones
   are mid-bright so that they read on the dark wall theme and on paper. */
export const TONES = ["#4c9aff", "#36b37e", "#ffab00", "#ff5630", "#a78bfa", "#00b8d9", "#f78c40", "#8993a4",
  "#e774bb", "#9bd14b"];
export const GOOD = "#36b37e";
export const BAD = "#ff5630";
export const NEUTRAL = "#8993a4";
export const STATE_TONES = {
  // 坐席状态 (实时监控: the donut and the agents' cards)
  agent: { idle: "#36b37e", ringing: "#ffab00", on_call: "#4c9aff", wrapup: "#a78bfa", paused: "#f78c40",
    unavailable: "#ff5630", logged_out: "#5e6c84" },
  // 工单状态 (管: the donut); same hue family as the agent states where the meaning is the same
  // (waiting for someone: amber; being handled: blue; problems: red), and never two states alike.
  ticket: { accepted: "#ffab00", dispatched: "#00b8d9", signed: "#4c9aff", return_requested: "#f78c40",
    returned: "#b76e00", consultation: "#6554c0", replied: "#a78bfa", awaiting_callback: "#9bd14b",
    unsatisfied: "#ff5630", appealed: "#e774bb", closed: "#36b37e", refused: "#8993a4", merged: "#5e6c84" },
};
/** The colour of a state of a kind ("agent", "ticket"); states not in the table get a categorical tone. */
export function stateTone(kind, state, i = 0) {
  return (STATE_TONES[kind] || {})[state] || TONES[i % TONES.length];
}
const tone = (i, t) => t || TONES[i % TONES.length];
const plain = (value) => (Math.round(value * 100) / 100).toLocaleString("zh-CN");
const EMPTY = "暂无数据";
const onWall = () => document.documentElement.classList.contains("wall");

/** A "nice" axis (Heckbert, Graphics Gems 1990): ticks at 1, 2 or 5 × 10^k from 0 to at least ``max``, about
    ``count`` of them; a count axis (``integer``) never steps below 1, so 0–3 reads 0, 1, 2, 3 and never 0.75. */
export function niceScale(max, count = 4, integer = false) {
  const top = Number.isFinite(max) && max > 0 ? max : (integer ? 1 : 1);
  const niceNum = (x, round) => {
    const exp = Math.floor(Math.log10(x));
    const f = x / 10 ** exp;
    const nf = round ? (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) : (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10);
    return nf * 10 ** exp;
  };
  let step = niceNum(niceNum(top, false) / Math.max(1, count), true);
  if (integer) step = Math.max(1, Math.round(step));
  const n = Math.max(1, Math.ceil(top / step - 1e-9));
  // Rounding of the step (0.1 × 3 = 0.30000000000000004) must not show: ticks are k × step, rounded to its digits.
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  const ticks = Array.from({ length: n + 1 }, (_, k) => Number((k * step).toFixed(digits)));
  return { max: ticks[ticks.length - 1], step, ticks };
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.appendChild(document.createTextNode(String(text)));
  return node;
}

/** The container's drawing size when ``opts.fit`` (its CSS box), else the given defaults. */
function size(container, opts, width, height) {
  if (!opts.fit) return { width, height, measured: false };
  // Measured empty: a container whose height comes from its content is 0 high then (the defaults apply);
  // one the layout gives a height (a wall screen's grid cell) keeps it.
  const box = container.getBoundingClientRect();
  return { width: Math.max(120, Math.floor(box.width) || width),
    height: Math.max(80, Math.floor(box.height) || height), measured: box.height >= 40 };
}

function frame(container, width, height, opts) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img" });
  if (opts.fit) root.classList.add("fit");
  if (opts.title) {
    root.setAttribute("aria-label", opts.title);
    root.appendChild(svg("title", {}, opts.title));
  }
  container.appendChild(root);
  return root;
}

function legend(series) {
  const list = document.createElement("ul");
  list.className = "chart-legend";
  series.forEach((s, i) => {
    const item = document.createElement("li");
    const key = svg("svg", { width: 12, height: 12, "aria-hidden": "true", class: "chart-key" });
    key.appendChild(svg("rect", { width: 12, height: 12, fill: tone(i, s.tone) }));
    item.dataset.tone = tone(i, s.tone);
    item.append(key, document.createTextNode(" " + s.name));
    list.appendChild(item);
  });
  return list;
}

/** Characters a label takes, CJK counted whole and Latin/digits half. */
const textWidth = (text) => [...String(text)].reduce((n, ch) => n + (ch.charCodeAt(0) > 0x2e80 ? 1 : 0.55), 0);

export function bars(container, items, options = {}) {
  const opts = { fit: onWall(), ...options };
  container.replaceChildren();
  const fmt = opts.format || plain;
  const font = opts.fit ? (onWall() ? 18 : 14) : 12;   // the CSS sizes of .chart-label (desk.css, wall.css)
  const row = opts.fit ? (onWall() ? 34 : 28) : 26;
  const { width } = size(container, opts, opts.width || 560, 0);
  const available = opts.fit ? container.getBoundingClientRect().height : 0;
  let shown = items;
  let hidden = 0;
  if (opts.fit && available > row) {   // a wall has no scroll: the top rows that fit, and how many are left out
    const rows = Math.max(1, Math.floor((available - 8) / row));
    if (items.length > rows) { shown = items.slice(0, rows - 1); hidden = items.length - shown.length; }
  }
  const lines = shown.length + (hidden ? 1 : 0);
  const height = Math.max(row, lines * row) + 8;
  const longest = Math.max(2, ...shown.map((i) => textWidth(i.label)));
  const labelWidth = opts.fit ? Math.min(Math.round(width * 0.42), Math.ceil(longest * font) + 14)
    : (opts.labelWidth || 150);
  const root = frame(container, width, height, opts);
  const max = opts.max || Math.max(1e-9, ...shown.map((i) => i.value || 0));
  const valueRoom = opts.fit ? Math.max(90, ...shown.map((i) => textWidth(fmt(i.value || 0) + (i.note ? ` ${i.note}` : "")) * font * 0.9 + 12)) : 90;
  const span = Math.max(20, width - labelWidth - valueRoom);
  const baseline = Math.round(row / 2 + font * 0.35);
  // A label longer than its room is cut with "…" (the whole label stays in the bar's tooltip).
  const fitted = (text) => {
    if (!opts.fit || textWidth(text) * font <= labelWidth - 10) return text;
    const chars = [...String(text)];
    while (chars.length > 1 && (textWidth(chars.join("")) + 1) * font > labelWidth - 10) chars.pop();
    return chars.join("") + "…";
  };
  shown.forEach((item, i) => {
    const y = 4 + i * row;
    const w = Math.max(0, (item.value || 0) / max) * span;
    root.appendChild(svg("text", { x: labelWidth - 6, y: y + baseline, "text-anchor": "end", class: "chart-label" },
      fitted(item.label)));
    const bar = svg("rect", { x: labelWidth, y: y + 4, width: w.toFixed(1), height: row - 8, rx: 3,
      fill: tone(i, item.tone || opts.tone) });
    bar.appendChild(svg("title", {}, `${item.label}：${fmt(item.value || 0)}`));
    root.appendChild(bar);
    root.appendChild(svg("text", { x: labelWidth + w + 6, y: y + baseline, class: "chart-value" },
      fmt(item.value || 0) + (item.note ? ` ${item.note}` : "")));
  });
  if (hidden) {
    root.appendChild(svg("text", { x: labelWidth, y: 4 + shown.length * row + baseline, class: "chart-axis chart-more" },
      `另有 ${hidden} 项未显示`));
  }
  if (!items.length) root.appendChild(svg("text", { x: 10, y: baseline + 4, class: "chart-label chart-empty" }, opts.empty || EMPTY));
  return root;
}

function axes(root, labels, scale, geometry, fmt, fit) {
  const { left, top, plotW, plotH } = geometry;
  for (const value of scale.ticks) {
    const y = top + plotH - (plotH * value) / scale.max;
    root.appendChild(svg("line", { x1: left, x2: left + plotW, y1: y, y2: y, stroke: "#d0d7de", class: "chart-grid" }));
    root.appendChild(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "chart-axis chart-tick" },
      fmt(value)));
  }
  // Fewer labels than slots when they would collide: every step-th, by the widest label's width in units.
  const room = Math.max(2, ...labels.map(textWidth)) * (fit ? 16 : 11) + 12;
  const step = Math.max(1, Math.ceil(labels.length / Math.max(1, Math.floor(plotW / room))));
  labels.forEach((label, i) => {
    if (i % step) return;
    const x = left + (plotW * (i + 0.5)) / labels.length;
    root.appendChild(svg("text", { x, y: top + plotH + (fit ? 22 : 16), "text-anchor": "middle", class: "chart-axis" }, label));
  });
}

const whole = (series) => series.every((s) => s.values.every((v) => v === null || v === undefined || Number.isInteger(v)));

/** The frame, axes and scale that columns and lines share. */
function plot(container, labels, series, options) {
  const opts = { fit: onWall(), ...options };
  container.replaceChildren();
  const fmt = opts.format || plain;
  const { width, height: boxH, measured } = size(container, opts, opts.width || 640, opts.height || 240);
  if (series.length > 1 || opts.legend) container.appendChild(legend(series));
  const legendH = container.firstChild ? container.firstChild.getBoundingClientRect().height + 4 : 0;
  const height = measured ? Math.max(100, boxH - legendH) : boxH;
  const integer = opts.integer ?? whole(series);
  const top = Math.max(0, ...series.flatMap((s) => s.values.map((v) => v || 0)));
  const scale = niceScale(opts.max || top, opts.fit ? Math.max(2, Math.min(5, Math.floor(height / 60))) : 4, integer);
  const tickFmt = opts.format || ((v) => v.toLocaleString("zh-CN"));
  const pad = opts.fit ? 14 : 6;
  const left = Math.max(40, Math.ceil(Math.max(...scale.ticks.map((t) => textWidth(tickFmt(t)))) * (opts.fit ? 16 : 11)) + pad + 6);
  const geometry = { left, top: 10, plotW: width - left - 14, plotH: height - (opts.fit ? 44 : 40) };
  const root = frame(container, width, height, opts);
  axes(root, labels, scale, geometry, tickFmt, opts.fit);
  return { root, geometry, max: scale.max, fmt, fit: opts.fit };
}

const drawn = (v) => v !== null && v !== undefined && Number.isFinite(v);

export function columns(container, labels, series, opts = {}) {
  const { root, geometry, max, fmt } = plot(container, labels, series, opts);
  const slot = geometry.plotW / Math.max(1, labels.length);
  const barW = Math.max(2, (slot * 0.8) / Math.max(1, series.length));
  series.forEach((s, si) => s.values.forEach((value, i) => {
    if (!drawn(value)) return;
    const h = (Math.max(0, value) / max) * geometry.plotH;
    const x = geometry.left + i * slot + slot * 0.1 + si * barW;
    const rect = svg("rect", { x: x.toFixed(1), y: (geometry.top + geometry.plotH - h).toFixed(1),
      width: barW.toFixed(1), height: h.toFixed(1), fill: tone(si, s.tone), "data-index": i });
    rect.appendChild(svg("title", {}, `${labels[i]} ${s.name}：${fmt(value)}`));
    root.appendChild(rect);
  }));
  return root;
}

export function line(container, labels, series, opts = {}) {
  const { root, geometry, max, fmt, fit } = plot(container, labels, series, opts);
  series.forEach((s, si) => {
    const points = s.values.map((value, i) => {
      const x = geometry.left + (geometry.plotW * (i + 0.5)) / labels.length;
      const y = drawn(value) ? geometry.top + geometry.plotH - (Math.max(0, value) / max) * geometry.plotH : null;
      return [x, y, value, i];
    });
    // One polyline per run of drawn points: a missing bucket breaks the line instead of dropping it to 0.
    let run = [];
    const flush = () => {
      if (run.length) {
        root.appendChild(svg("polyline", { points: run.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "),
          fill: "none", stroke: tone(si, s.tone), "stroke-width": fit ? 3 : 2 }));
      }
      run = [];
    };
    for (const point of points) { if (point[1] === null) flush(); else run.push(point); }
    flush();
    points.forEach(([x, y, value, i]) => {
      if (y === null) return;
      const dot = svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: fit ? 4 : 3, fill: tone(si, s.tone),
        "data-index": i });
      dot.appendChild(svg("title", {}, `${labels[i]} ${s.name}：${fmt(value)}`));
      root.appendChild(dot);
    });
  });
  return root;
}

function arc(cx, cy, r, from, to) {
  const p = (a) => [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  const [x1, y1] = p(from), [x2, y2] = p(to);
  const large = to - from > Math.PI ? 1 : 0;
  return `M ${x1.toFixed(2)} ${y1.toFixed(2)} A ${r} ${r} 0 ${large} 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
}

export function gauge(container, ratio, opts = {}) {
  container.replaceChildren();
  const value = Math.min(1, Math.max(0, Number.isFinite(ratio) ? ratio : 0));
  const root = frame(container, 200, 120, opts);
  root.appendChild(svg("path", { d: arc(100, 100, 80, Math.PI, 2 * Math.PI), fill: "none", stroke: "#d0d7de",
    "stroke-width": 18, class: "chart-track" }));
  if (value > 0) {
    root.appendChild(svg("path", { d: arc(100, 100, 80, Math.PI, Math.PI + Math.PI * Math.min(value, 0.9999)),
      fill: "none", stroke: opts.tone || (value >= (opts.good ?? 0.9) ? GOOD : BAD), "stroke-width": 18 }));
  }
  const text = Number.isFinite(ratio) ? `${(ratio * 100).toFixed(1)}%` : "—";
  root.appendChild(svg("text", { x: 100, y: 95, "text-anchor": "middle", class: "chart-big" }, text));
  if (opts.label) root.appendChild(svg("text", { x: 100, y: 116, "text-anchor": "middle", class: "chart-label" },
    opts.label));
  return root;
}

export function donut(container, items, opts = {}) {
  container.replaceChildren();
  const fmt = opts.format || plain;
  const root = frame(container, 200, 200, opts);
  root.classList.remove("fit");
  const total = items.reduce((sum, i) => sum + Math.max(0, i.value || 0), 0);
  let angle = -Math.PI / 2;
  items.forEach((item, i) => {
    const share = total ? Math.max(0, item.value || 0) / total : 0;
    if (share <= 0) return;
    const to = angle + share * 2 * Math.PI * 0.99999;
    // A whole ring is a circle: an arc whose ends meet is not drawn at all.
    const path = share > 0.9999
      ? svg("circle", { cx: 100, cy: 100, r: 70, fill: "none", stroke: tone(i, item.tone), "stroke-width": 34 })
      : svg("path", { d: arc(100, 100, 70, angle, to), fill: "none", stroke: tone(i, item.tone), "stroke-width": 34 });
    path.appendChild(svg("title", {}, `${item.label}：${fmt(item.value || 0)}（${(share * 100).toFixed(1)}%）`));
    root.appendChild(path);
    angle = to;
  });
  if (!total) root.appendChild(svg("circle", { cx: 100, cy: 100, r: 70, fill: "none", stroke: "#d0d7de",
    "stroke-width": 34, class: "chart-track" }));
  root.appendChild(svg("text", { x: 100, y: 106, "text-anchor": "middle", class: "chart-big" }, fmt(total)));
  container.appendChild(legend(items.map((i) => ({ name: `${i.label} ${fmt(i.value || 0)}`, tone: i.tone }))));
  if (!total && opts.empty) container.appendChild(Object.assign(document.createElement("p"),
    { className: "hint chart-empty", textContent: opts.empty }));
  return root;
}

/**
 * Horizontal stacked bars: one row per label, one segment per series (e.g. 满意 / 基本满意 / 不满意 of each unit),
 * the row's total after it (or opts.note(i), e.g. a rate). Each segment carries its value in data-value and its
 * tooltip; a legend names the series.
 */
export function stacked(container, labels, series, opts = {}) {
  container.replaceChildren();
  const fmt = opts.format || plain;
  const row = 26;
  const font = 12;
  const { width } = size(container, opts, opts.width || 640, 0);
  container.appendChild(legend(series));
  const height = Math.max(row, labels.length * row) + 8;
  const labelWidth = opts.labelWidth || Math.min(Math.round(width * 0.4), Math.ceil(Math.max(2, ...labels.map(textWidth)) * font) + 14);
  const totals = labels.map((_, i) => series.reduce((n, s) => n + (s.values[i] || 0), 0));
  const max = opts.max || Math.max(1e-9, ...totals);
  const valueRoom = 130;
  const span = Math.max(20, width - labelWidth - valueRoom);
  const baseline = Math.round(row / 2 + font * 0.35);
  const root = frame(container, width, height, opts);
  labels.forEach((label, i) => {
    const y = 4 + i * row;
    const g = svg("g", { class: "stacked-row", "data-label": label, "data-total": totals[i] });
    g.appendChild(svg("text", { x: labelWidth - 6, y: y + baseline, "text-anchor": "end", class: "chart-label" }, label));
    let x = labelWidth;
    series.forEach((s, si) => {
      const value = s.values[i] || 0;
      const w = (value / max) * span;
      const rect = svg("rect", { x: x.toFixed(1), y: y + 4, width: w.toFixed(1), height: row - 8,
        fill: tone(si, s.tone), "data-series": s.name, "data-value": value });
      rect.appendChild(svg("title", {}, `${label} ${s.name}：${fmt(value)}`));
      g.appendChild(rect);
      x += w;
    });
    const note = opts.note ? opts.note(i) : fmt(totals[i]);
    g.appendChild(svg("text", { x: x + 6, y: y + baseline, class: "chart-value" }, note));
    root.appendChild(g);
  });
  if (!labels.length) root.appendChild(svg("text", { x: 10, y: baseline + 4, class: "chart-label chart-empty" }, opts.empty || EMPTY));
  return root;
}
