/* A ticket opened from a work list: a panel over the right of the list (not modal: the list keeps its place, order and
   scroll, another row opens another ticket, the header stays usable; Esc or 关闭 closes it), its address kept in the page's URL (?number=…) so a reload or a shared link opens it again. A ticket that cannot be
   opened says why in Chinese inside the dialog, never an empty card. */

import { el, message } from "./dom.js";
import { renderTicket } from "./ticket.js";

const TEXT = {
  title: "工单详情", close: "关闭", loading: "正在打开工单…",
  // A unit is told the same for a number that does not exist and another unit's ticket (the API does not say which).
  unitMissing: (n) => `无法打开工单 ${n}：该工单不存在，或不是本单位承办、协办的工单。如需办理请联系 12345 平台。`,
  missing: (n) => `工单 ${n} 不存在，请核对工单编号。`,
  failed: (n, why) => `无法打开工单 ${n}：${why}`,
};

let dialog = null;
let detail = null;
let status = null;

function build() {
  detail = el("div", { id: "ticket-detail" });
  status = el("div", { class: "msg", role: "status" });
  const close = el("button", { type: "button", class: "secondary dialog-close", onclick: () => dialog.close() }, TEXT.close);
  dialog = el("dialog", { id: "detail-card", class: "ticket-dialog", "aria-label": TEXT.title },
    el("div", { class: "dialog-bar" }, el("span", { class: "dialog-title" }, TEXT.title), close), status, detail);
  dialog.addEventListener("keydown", (ev) => { if (ev.key === "Escape") dialog.close(); });
  dialog.addEventListener("close", () => {
    const url = new URL(location.href);
    url.searchParams.delete("number");
    history.replaceState(null, "", url.pathname + url.search);
  });
  document.body.append(dialog);
  addEventListener("scroll", place, { passive: true });
  addEventListener("resize", place, { passive: true });
}

/** Below the page's header while it is in sight (its links and 退出登录 stay usable), the window's full height after. */
function place() {
  if (!dialog || !dialog.open) return;
  const bar = document.getElementById("topbar");
  const top = Math.max(0, bar ? bar.getBoundingClientRect().bottom : 0);
  dialog.style.top = `${top}px`;
  dialog.style.height = `${window.innerHeight - top}px`;
}

/**
 * Opens ticket ``number`` in the dialog. ``who``: the signed-in user (GET /me), for the wording of a refusal;
 * opts go to renderTicket (onChanged …). Resolves to the detail, or null when it could not be opened.
 */
export async function openTicket(number, who, opts = {}) {
  if (!dialog) build();
  detail.replaceChildren();
  delete detail.dataset.number;
  message(status, TEXT.loading, "info");
  if (!dialog.open) dialog.show();
  place();
  dialog.scrollTop = 0;
  dialog.querySelector(".dialog-close").focus();
  const url = new URL(location.href);
  url.searchParams.set("number", number);
  history.replaceState(null, "", url.pathname + url.search);
  try {
    const found = await renderTicket(detail, number, opts);
    message(status, "", "info");
    return found;
  } catch (err) {
    const text = err.status === 404 ? (who && who.role === "unit" ? TEXT.unitMissing(number) : TEXT.missing(number))
      : TEXT.failed(number, err.message);
    message(status, text, "error");
    return null;
  }
}

/** The ticket number the page's address asks for (?number=, 14 digits), or null. */
export function numberInAddress() {
  const number = new URLSearchParams(location.search).get("number");
  return number && /^\d{14}$/.test(number) ? number : null;
}
