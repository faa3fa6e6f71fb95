/* The knowledge base beside a direct answer: search (GET /knowledge?q=), and 引用此条 fills the reference
   and, when the answer is still empty, the article's text (GET /knowledge/{code}).
   And knowledge at hand (可直接答复, answersPanel): the articles most relevant to what the caller says, asked of
   POST /knowledge/suggestions as the transcript or the form text grows. */

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
        results.append(el("li", {}, el("strong", {}, hit.title || code),
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

/* Every word the 可直接答复 panel shows. */
const ANSWERS = {
  empty: "输入或转写诉求后，这里显示可直接答复的知识条目。",
  none: "暂无相关知识条目。",
  shared: "共有词语：",
  relevance: "相关度",
  open: "查看全文",
  close: "收起",
  failed: "知识条目暂时无法获取，请稍后再试。",
};
const POLL_MS = 700;      // how often the text is looked at (the transcript and prefill change it without events)
const MIN_CHARS = 2;

/**
 * 可直接答复: keeps ``list`` (a <ul>) showing the articles most relevant to ``text()`` (the transcript and the
 * form's title and content), asking again whenever that text changed, one request at a time; ``note`` shows
 * the panel's state (empty, nothing found, an error). Returns { refresh() }.
 */
export function answersPanel(list, note, text) {
  let asked = null;     // the text the list answers (or is being asked for)
  let busy = false;

  const render = (items) => {
    clear(list);
    note.textContent = items.length ? "" : ANSWERS.none;
    for (const item of items) {
      const body = el("div", { class: "kb-body", hidden: true });
      const toggle = el("button", { type: "button", class: "secondary", "aria-expanded": "false" }, ANSWERS.open);
      toggle.addEventListener("click", async () => {
        const opening = body.hidden;
        body.hidden = !opening;
        toggle.textContent = opening ? ANSWERS.close : ANSWERS.open;
        toggle.setAttribute("aria-expanded", String(opening));
        if (opening && !body.textContent) {
          try {
            const article = await api("GET", `/knowledge/${encodeURIComponent(item.code)}`);
            body.textContent = article.body;
          } catch (err) {
            body.textContent = ANSWERS.failed;
          }
        }
      });
      list.append(el("li", { dataset: { code: item.code } },
        el("strong", {}, item.title), " ", el("span", { class: "hint" }, `${ANSWERS.relevance} ${Math.round(item.score * 100)}%`),
        item.reasons.length ? el("div", { class: "hint" }, ANSWERS.shared + item.reasons.join("、")) : null,
        el("div", {}, item.snippet), toggle, body));
    }
  };

  async function refresh() {
    const now = (text() || "").trim();
    if (busy || now === asked) return;
    asked = now;
    if (now.length < MIN_CHARS) { clear(list); note.textContent = ANSWERS.empty; return; }
    busy = true;
    try {
      render(await api("POST", "/knowledge/suggestions", { text: now.slice(0, 20000), limit: 5 }));
    } catch (err) {
      clear(list);
      note.textContent = ANSWERS.failed;
      asked = null;   // ask again next time
    } finally {
      busy = false;
    }
  }

  note.textContent = ANSWERS.empty;
  setInterval(refresh, POLL_MS);
  return { refresh };
}
