/* 12345 坐席工作台: small SVG charts for the supervisors' pages (no library, nothing from the network).
   Every label is set as text (createTextNode), never parsed as markup. The strict CSP allows no inline
   styles, so colours are SVG presentation attributes and layout uses classes from desk.css.

   bars(container, items, opts)   horizontal bars; items: [{label, value, note?, tone?}]
   columns(container, labels, series, opts)  grouped columns; series: [{name, values, tone?}]
   line(container, labels, series, opts)     lines over labels (trends by day/week/month)
   gauge(container, ratio, opts)             a half-circle gauge for one rate in [0, 1]
   donut(container, items, opts)             shares of a whole; items: [{label, value, tone?}]
   opts: {title, format(value) -> text, max, height, width}
   Every call replaces what the container held, so pages simply redraw on each update. */
const NS = "http://www.w3.org/2000/svg";
export const TONES = ["#1f6feb", "#2da44e", "#d4a72c", "#cf222e", "#8250df", "#0a7f86", "#bc4c00", "#57606a"];
const tone = (i, t) => t || TONES[i % TONES.length];
const plain = (value) => (Math.round(value * 100) / 100).toLocaleString("zh-CN");

function svg(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.appendChild(document.createTextNode(String(text)));
  return node;
}

function frame(container, width, height, opts) {
  container.replaceChildren();
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img" });
  if (opts.title) {
    root.setAttribute("aria-label", opts.title);
    root.appendChild(svg("title", {}, opts.title));
  }
  container.appendChild(root);
  return root;
}

function legend(container, series) {
  const list = document.createElement("ul");
  list.className = "chart-legend";
  series.forEach((s, i) => {
    const item = document.createElement("li");
    const key = svg("svg", { width: 12, height: 12, "aria-hidden": "true" });
    key.appendChild(svg("rect", { width: 12, height: 12, fill: tone(i, s.tone) }));
    item.append(key, document.createTextNode(" " + s.name));
    list.appendChild(item);
  });
  container.appendChild(list);
}

export function bars(container, items, opts = {}) {
  const fmt = opts.format || plain;
  const row = 26, labelWidth = opts.labelWidth || 150, width = opts.width || 560;
  const height = Math.max(row, items.length * row) + 8;
  const root = frame(container, width, height, opts);
  const max = opts.max || Math.max(1e-9, ...items.map((i) => i.value || 0));
  const span = width - labelWidth - 90;
  items.forEach((item, i) => {
    const y = 4 + i * row;
    const w = Math.max(0, (item.value || 0) / max) * span;
    root.appendChild(svg("text", { x: labelWidth - 6, y: y + 16, "text-anchor": "end", class: "chart-label" },
      item.label));
    const bar = svg("rect", { x: labelWidth, y: y + 3, width: w.toFixed(1), height: row - 8, rx: 3,
      fill: tone(i, item.tone || opts.tone) });
    bar.appendChild(svg("title", {}, `${item.label}：${fmt(item.value || 0)}`));
    root.appendChild(bar);
    root.appendChild(svg("text", { x: labelWidth + w + 6, y: y + 16, class: "chart-value" },
      fmt(item.value || 0) + (item.note ? ` ${item.note}` : "")));
  });
  if (!items.length) root.appendChild(svg("text", { x: 10, y: 20, class: "chart-label" }, "暂无数据"));
  return root;
}

function axes(root, labels, max, geometry, fmt) {
  const { left, top, plotW, plotH } = geometry;
  for (let k = 0; k <= 4; k++) {
    const y = top + plotH - (plotH * k) / 4;
    root.appendChild(svg("line", { x1: left, x2: left + plotW, y1: y, y2: y, stroke: "#d0d7de" }));
    root.appendChild(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "chart-axis" },
      fmt((max * k) / 4)));
  }
  const step = Math.max(1, Math.ceil(labels.length / 12));
  labels.forEach((label, i) => {
    if (i % step) return;
    const x = left + (plotW * (i + 0.5)) / labels.length;
    root.appendChild(svg("text", { x, y: top + plotH + 16, "text-anchor": "middle", class: "chart-axis" }, label));
  });
}

/** The frame, axes and scale that columns and lines share. */
function plot(container, labels, series, opts) {
  const fmt = opts.format || plain;
  const width = opts.width || 640, height = opts.height || 240;
  const geometry = { left: 56, top: 10, plotW: width - 70, plotH: height - 40 };
  const root = frame(container, width, height, opts);
  const max = opts.max || Math.max(1e-9, ...series.flatMap((s) => s.values.map((v) => v || 0)));
  axes(root, labels, max, geometry, fmt);
  return { root, geometry, max, fmt };
}

export function columns(container, labels, series, opts = {}) {
  const { root, geometry, max, fmt } = plot(container, labels, series, opts);
  const slot = geometry.plotW / Math.max(1, labels.length);
  const barW = Math.max(2, (slot * 0.8) / Math.max(1, series.length));
  series.forEach((s, si) => s.values.forEach((value, i) => {
    const h = (Math.max(0, value || 0) / max) * geometry.plotH;
    const x = geometry.left + i * slot + slot * 0.1 + si * barW;
    const rect = svg("rect", { x: x.toFixed(1), y: (geometry.top + geometry.plotH - h).toFixed(1),
      width: barW.toFixed(1), height: h.toFixed(1), fill: tone(si, s.tone) });
    rect.appendChild(svg("title", {}, `${labels[i]} ${s.name}：${fmt(value || 0)}`));
    root.appendChild(rect);
  }));
  if (series.length > 1 || opts.legend) legend(container, series);
  return root;
}

export function line(container, labels, series, opts = {}) {
  const { root, geometry, max, fmt } = plot(container, labels, series, opts);
  series.forEach((s, si) => {
    const points = s.values.map((value, i) => {
      const x = geometry.left + (geometry.plotW * (i + 0.5)) / labels.length;
      const y = geometry.top + geometry.plotH - (Math.max(0, value || 0) / max) * geometry.plotH;
      return [x, y, value];
    });
    root.appendChild(svg("polyline", { points: points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "),
      fill: "none", stroke: tone(si, s.tone), "stroke-width": 2 }));
    points.forEach(([x, y, value], i) => {
      const dot = svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 3, fill: tone(si, s.tone) });
      dot.appendChild(svg("title", {}, `${labels[i]} ${s.name}：${fmt(value || 0)}`));
      root.appendChild(dot);
    });
  });
  if (series.length > 1 || opts.legend) legend(container, series);
  return root;
}

function arc(cx, cy, r, from, to) {
  const p = (a) => [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  const [x1, y1] = p(from), [x2, y2] = p(to);
  const large = to - from > Math.PI ? 1 : 0;
  return `M ${x1.toFixed(2)} ${y1.toFixed(2)} A ${r} ${r} 0 ${large} 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
}

export function gauge(container, ratio, opts = {}) {
  const value = Math.min(1, Math.max(0, Number.isFinite(ratio) ? ratio : 0));
  const root = frame(container, 200, 120, opts);
  root.appendChild(svg("path", { d: arc(100, 100, 80, Math.PI, 2 * Math.PI), fill: "none", stroke: "#d0d7de",
    "stroke-width": 18 }));
  if (value > 0) {
    root.appendChild(svg("path", { d: arc(100, 100, 80, Math.PI, Math.PI + Math.PI * Math.min(value, 0.9999)),
      fill: "none", stroke: opts.tone || (value >= (opts.good ?? 0.9) ? TONES[1] : TONES[3]), "stroke-width": 18 }));
  }
  const text = Number.isFinite(ratio) ? `${(ratio * 100).toFixed(1)}%` : "—";
  root.appendChild(svg("text", { x: 100, y: 95, "text-anchor": "middle", class: "chart-big" }, text));
  if (opts.label) root.appendChild(svg("text", { x: 100, y: 116, "text-anchor": "middle", class: "chart-label" },
    opts.label));
  return root;
}

export function donut(container, items, opts = {}) {
  const fmt = opts.format || plain;
  const root = frame(container, 200, 200, opts);
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
  root.appendChild(svg("text", { x: 100, y: 106, "text-anchor": "middle", class: "chart-big" }, fmt(total)));
  legend(container, items.map((i) => ({ name: `${i.label} ${fmt(i.value || 0)}`, tone: i.tone })));
  return root;
}
