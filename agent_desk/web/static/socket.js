/* One reconnecting WebSocket to the desk (/ws/desk, /ws/wallboard): JSON messages, a keep-alive ping,
   reconnection with back-off, and the page's own re-subscription after each reconnect. */

import { toLogin } from "./api.js";

export const WS = "/ws";

const PING_MS = 25_000;
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;
const UNAUTHORISED = 4401;   // the session is gone: to the login page
const FORBIDDEN = 4403;      // this role may not listen here: no point retrying

/**
 * Connects to ``WS + path`` and keeps connected.
 *   onMessage(data)           every JSON message
 *   onStatus(status, event)   "connecting" | "open" | "retrying" (with the close event) | "forbidden"
 *   onOpen({ reconnected })   after each connection; the place to re-subscribe or reload missed state
 * Returns { send(text), close() }.
 */
export function reconnecting(path, { onMessage, onStatus, onOpen } = {}) {
  const status = onStatus || (() => {});
  let socket = null;
  let failures = 0;
  let opened = false;
  let stopped = false;
  let ping = null;
  let timer = null;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${WS}${path}`);
    status("connecting");
    socket.addEventListener("open", () => {
      failures = 0;
      status("open");
      if (onOpen) onOpen({ reconnected: opened });
      opened = true;
    });
    socket.addEventListener("message", (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch (err) { return; }
      if (onMessage) onMessage(data);
    });
    socket.addEventListener("close", (ev) => {
      clearInterval(ping);
      if (stopped) return;
      if (ev.code === UNAUTHORISED) { stopped = true; toLogin(); return; }
      if (ev.code === FORBIDDEN) { stopped = true; status("forbidden", ev); return; }
      status("retrying", ev);
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** failures);
      failures += 1;
      timer = setTimeout(connect, delay);
    });
    ping = setInterval(() => { if (socket.readyState === WebSocket.OPEN) socket.send("ping"); }, PING_MS);
  }

  connect();

  function close() {
    stopped = true;
    clearTimeout(timer);
    clearInterval(ping);
    if (socket) socket.close();
  }

  return {
    send: (text) => { if (socket && socket.readyState === WebSocket.OPEN) socket.send(text); },
    close,
  };
}
