/* The one client of the desk's API: JSON in and out, the desk's error bodies shown in Chinese.
   Every API address is built from API, so a versioned prefix later changes this one constant. */

export const API = "/api/v1";

/** The address of an API path, e.g. apiUrl("/tickets") → "/api/v1/tickets" (also for download links). */
export const apiUrl = (path) => API + path;

/** A failed request: ``status`` (0 when the server was not reached), the desk's ``code``, a Chinese message. */
export class ApiError extends Error {
  constructor(status, code, text, fields) {
    super(text);
    this.status = status;
    this.code = code;
    this.fields = fields || [];
  }
}

const NETWORK = "无法连接服务器，请检查网络后重试";
const fallback = (status) => (status >= 500 ? "服务器内部错误，请稍后再试" : `请求失败（${status}）`);

/** The desk answers ``{"error": code, "message": 中文}`` (agent_desk/api/errors.py); an error object
    ``{"error": {"code", "message"}}`` is read too. */
function errorOf(status, data) {
  const err = data && data.error;
  if (err && typeof err === "object") return new ApiError(status, err.code, err.message || fallback(status), err.fields);
  return new ApiError(status, typeof err === "string" ? err : null, (data && data.message) || fallback(status),
    data && data.fields);
}

/** Back to the login page, coming back here once signed in. */
export function toLogin() {
  const next = location.pathname + location.search;
  location.href = "/" + (next && next !== "/" ? "?next=" + encodeURIComponent(next) : "");
}

/**
 * One request to the API: ``path`` is relative to API ("/tickets"); ``body`` is sent as JSON.
 * Resolves to the parsed answer (null when empty); rejects with an ApiError. A 401 goes to the login page
 * unless ``redirectOn401`` is false.
 */
export async function api(method, path, body, { redirectOn401 = true } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiUrl(path), init);
  } catch (err) {
    throw new ApiError(0, "network", NETWORK);
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try { data = JSON.parse(text); } catch (err) { data = null; }
  }
  if (!response.ok) {
    if (response.status === 401 && redirectOn401) toLogin();
    throw errorOf(response.status, data);
  }
  return data;
}

/** A query string ("?a=1&b=2") of the parameters that have a value; "" when none has. */
export function qs(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "" && value !== false) search.set(key, value);
  }
  const text = search.toString();
  return text ? "?" + text : "";
}
