/* Building the page. Data is always put in as text, never as HTML: transcripts and ticket contents come
   from citizens. */

/** An element with attributes (class, text, on<event>, dataset, others as attributes) and children. */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (selector, root) => (root || document).querySelector(selector);

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

/** A status line: kind is "info", "ok" or "error" (an alert). */
export function message(node, text, kind) {
  node.className = "msg " + (kind || "info");
  node.textContent = text || "";
  node.setAttribute("role", kind === "error" ? "alert" : "status");
}

/** "—" for a missing value. */
export const dash = (value) => (value === null || value === undefined || value === "" ? "—" : String(value));
