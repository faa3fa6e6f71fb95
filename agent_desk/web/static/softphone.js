/* 网页电话: the agent's own extension registered from this browser (JsSIP over Asterisk's WebSocket, audio
   over DTLS-SRTP). The agent page starts it only when /api/me says the center has browser softphones; the
   vendored JsSIP bundle (a classic script defining the global JsSIP) is loaded then, from this origin. */

import { api } from "./api.js";
import { $, message, show } from "./dom.js";

const LIBRARY = "/vendor/jssip.min.js";   // built from npm's jssip by scripts/setup.sh
const msg = () => $("#softphone-msg");
let ua = null;
let session = null;       // the one call this phone is on (or ringing with)

function state(text, kind) {
  const badge = $("#softphone-state");
  badge.textContent = text;
  badge.className = `badge ${kind || ""}`;
}

function buttons(phase) {  // idle | ringing | talking
  show($("#softphone-answer"), phase === "ringing");
  show($("#softphone-reject"), phase === "ringing");
  show($("#softphone-mute"), phase === "talking");
  show($("#softphone-hangup"), phase === "talking");
  if (phase !== "talking") {
    $("#softphone-mute").textContent = "静音";
    $("#softphone-mute").setAttribute("aria-pressed", "false");
  }
}

function loadLibrary() {
  if (window.JsSIP) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = LIBRARY;
    script.onload = () => (window.JsSIP ? resolve() : reject(new Error("missing")));
    script.onerror = () => reject(new Error("missing"));
    document.head.append(script);
  });
}

function peerOf(s) {
  const id = s.remote_identity;
  const name = id && id.display_name ? `${id.display_name} ` : "";
  return `${name}${id && id.uri ? id.uri.user : "未知号码"}`;
}

function idle(text) {
  session = null;
  buttons("idle");
  $("#softphone-peer").textContent = text || "本机浏览器即为话机：来电时在此接听。";
  if (ua && ua.isRegistered()) state("空闲", "live");
}

function onSession({ session: s, originator }) {
  if (session) {                        // already on a call: the queue tries another agent
    if (originator === "remote") s.terminate({ status_code: 486, reason_phrase: "Busy Here" });
    return;
  }
  session = s;
  s.on("peerconnection", ({ peerconnection }) => {
    peerconnection.addEventListener("track", (event) => { $("#softphone-audio").srcObject = event.streams[0]; });
  });
  const talking = () => { state("通话中", "live"); buttons("talking"); $("#softphone-peer").textContent = `通话中：${peerOf(s)}`; };
  s.on("accepted", talking);
  s.on("confirmed", talking);
  s.on("ended", () => idle(`通话已结束：${peerOf(s)}`));
  s.on("failed", (e) => idle(e.cause === window.JsSIP.C.causes.CANCELED ? `未接来电：${peerOf(s)}` : `通话未接通（${e.cause}）`));
  if (originator !== "remote") return;
  state("来电振铃", "open");
  $("#softphone-peer").textContent = `来电：${peerOf(s)}`;
  buttons("ringing");
  if ($("#softphone-auto").checked) answer();
}

function answer() {
  if (!session) return;
  try {
    session.answer({ mediaConstraints: { audio: true, video: false } });
  } catch (err) {
    message(msg(), `无法接听：${err.message}`, "error");
  }
  buttons("talking");
}

/** Start the phone: fetch this agent's registration, load JsSIP, register. */
export async function start() {
  show($("#softphone-card"), true);
  buttons("idle");
  $("#softphone-answer").addEventListener("click", answer);
  $("#softphone-reject").addEventListener("click", () => session && session.terminate({ status_code: 486 }));
  $("#softphone-hangup").addEventListener("click", () => session && session.terminate());
  $("#softphone-mute").addEventListener("click", () => {
    if (!session) return;
    const muted = session.isMuted().audio;
    if (muted) session.unmute({ audio: true }); else session.mute({ audio: true });
    $("#softphone-mute").textContent = muted ? "静音" : "取消静音";
    $("#softphone-mute").setAttribute("aria-pressed", String(!muted));
  });
  let account;
  try {
    account = await api("GET", "/softphone");
    await loadLibrary();
  } catch (err) {
    state("不可用", "down");
    message(msg(), err.message === "missing" ? "网页电话组件未安装，请联系管理员运行安装脚本" : err.message, "error");
    return;
  }
  ua = new window.JsSIP.UA({
    sockets: [new window.JsSIP.WebSocketInterface(account.socket)], uri: account.uri, password: account.password,
    display_name: account.display_name || account.extension, register: true, session_timers: false,
    user_agent: "hotline12345-web",
  });
  state("正在连接", "open");
  ua.on("disconnected", () => state("连接断开，正在重连", "down"));
  // The page's other parts (签入 needs a registered phone) hear of each change as a "softphone-registration" event.
  const told = (registered) => window.dispatchEvent(new CustomEvent("softphone-registration", { detail: { registered } }));
  ua.on("registered", () => {
    state(session ? "通话中" : "空闲", "live");
    message(msg(), `分机 ${account.extension} 已注册`, "ok");
    told(true);
  });
  ua.on("unregistered", () => { state("未注册", "down"); told(false); });
  ua.on("registrationFailed", (e) => {
    state("注册失败", "down");
    message(msg(), `分机 ${account.extension} 注册失败（${e.cause}），请联系管理员`, "error");
  });
  ua.on("newRTCSession", onSession);
  ua.start();
}

/** Audio counters of the current call (RTP packets in and out), for the page and its checks. */
export async function mediaStats() {
  const pc = session && session.connection;
  if (!pc) return null;
  const totals = { received: 0, sent: 0, dtls: "" };
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") totals.received += r.packetsReceived || 0;
    if (r.type === "outbound-rtp" && r.kind === "audio") totals.sent += r.packetsSent || 0;
    if (r.type === "transport") totals.dtls = r.dtlsState || totals.dtls;
  });
  return totals;
}

/** Whether the extension is registered. */
export const registered = () => Boolean(ua && ua.isRegistered());

// For the end-to-end checks (tests/e2e/test_browser_softphone.py), which read the call's audio counters.
window.Softphone = Object.freeze({ start, mediaStats, registered });
