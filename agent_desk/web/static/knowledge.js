/* The knowledge base beside a direct answer: search (GET /knowledge?q=), and 引用此条 fills the reference
   and, when the answer is still empty, the article's text (GET /knowledge/{code}). */

import { api, qs } from "./api.js";
import { clear, el } from "./dom.js";

export function knowledgeBox(answer, ref) {
  const input = el("input", { type: "search", "aria-label": "搜索知识库", placeholder: "输入关键词搜索知识库" });
  const results = el("ul", { class: "plain kb-results", "aria-live": "polite" });
  const cite = (hit, code) => {
    ref.value = code;
    answer.focus();
    if (answer.value.trim()) return;
    api("GET", `/knowledge/${encodeURIComponent(code)}`).then((article) => {
      if (!answer.value.trim() && article && article.body) answer.value = article.body;
    }).catch(() => { answer.value = answer.value || `参考知识库“${(hit.title || code).replace(/[【】]/g, "")}”`; });
  };
  const run = async () => {
    clear(results);
    const q = input.value.trim();
    if (!q) return;
    try {
      const data = await api("GET", "/knowledge" + qs({ q }));
      const list = Array.isArray(data) ? data : (data && (data.items || data.hits || data.results)) || [];
      if (!list.length) { results.append(el("li", { class: "empty" }, "未找到相关知识")); return; }
      for (const hit of list) {
        const code = hit.code || hit.ref || String(hit.id || "");
        const text = hit.answer || hit.body || hit.snippet || "";
        results.append(el("li", {}, el("strong", {}, hit.title || code), " ", el("span", { class: "hint" }, code),
          el("div", {}, hit.snippet || text),
          el("button", { type: "button", class: "secondary", onclick: () => cite(hit, code) }, "引用此条")));
      }
    } catch (err) {
      results.append(el("li", { class: "msg error" }, err.message));
    }
  };
  input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); run(); } });
  return el("div", { class: "field" }, el("span", { class: "label" }, "知识库"),
    el("div", { class: "row" }, input, el("button", { type: "button", class: "secondary", onclick: run }, "搜索")), results);
}
