"""Browser softphones (网页电话) in a cluster (issue 15, point 3): Kamailio on 127.0.0.1 in front of two Asterisk
nodes on 127.0.0.2 and 127.0.0.3, rendered with ``agents.webrtc: true``; the browser registers with Kamailio over
SIP on a WebSocket, and a node reaches it through the proxy as it reaches a SIP phone.

The browser is Debian's Chromium with a synthetic microphone running JsSIP (the desk's vendored bundle) in a plain
page this test serves on loopback, with the registration details the desk would hand the agent page
(``BrowserPhones.for_site``): the agent page itself needs a whole desk wired to every node's AMI, which is not
what is tested here (tests/e2e/test_browser_softphone.py drives the agent page against one node).

- A wrong password is refused at the proxy; the right one registers a WebSocket contact there.
- A citizen's call waiting in a queue on node n2 (a Local channel standing in for the carrier's leg, as
  tests/support/cluster.py's queue_call) rings the browser through the proxy; the browser answers; n2's AMI shows
  the queue connecting the agent, and the browser's WebRTC statistics show DTLS up and audio both ways (the
  citizen's side echoes the browser's microphone), straight between the browser and n2 (n2's RTP goes to the
  browser's own ICE address). ICE candidates are cut to loopback on the page, so no media uses another address.
- Rung once: while the browser agent talks, n1's queue call to the same agent is refused at the proxy (486) and
  never reaches the browser.
- The proxy's keep-alive inside the call (every 30 s) does not end a live browser call: 55 s on, audio still
  flows and the proxy still counts the agent busy (with OPTIONS sent to the browser's dialog contact, the proxy
  dropped the call's dialog within that time and counted a talking agent free).
- The browser hangs up: the call ends on n2 and the proxy counts the agent free.
- n1 reaches the same browser; its page is closed mid-call (no BYE): n1 notices the missing audio (rtp_timeout,
  30 s), hangs up, and the agent is free at the proxy.
- The browser places a call itself (the sub-center 12366, a transfer target the agents' context accepts): the proxy
  takes it as it takes a SIP phone's (the agent's digest login, its registration, counted as the agent's call), a
  node runs it in the agents' context as the agent (channel ``PJSIP/8002-…``) and dials the sub-center on its trunk
  (the peer, sending music); audio flows both ways between the browser and the node, the node's hang-up reaches the
  browser over its connection (the contact's alias), and the node's call record (CDR) has the call as a SIP phone's.
- ``wss://`` on the proxy's TLS port presents the certificate generated at install, and a REGISTER over it is
  challenged and then accepted with the generated password; Chromium trusting exactly that certificate registers
  over it (and without that trust it cannot connect). The WebSocket handshake is taken only at /ws and only from
  the agents' networks.

Only loopback addresses, ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from typing import Any
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import websockets

from agent_desk.telephony import agents
from agent_desk.telephony.softphone import BrowserPhones
from hotline import channelvars as v
from hotline import confgen
from hotline.numberplan import GENERAL_QUEUE
from hotline.paths import PROJECT_ROOT
from tests.support import sip
from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS, FAKE_MICROPHONE, eventually, media_flowing
from tests.support.cluster import CITIZEN, RunningCluster, running_cluster
from tests.support.events import poll

pytestmark = pytest.mark.asterisk

AGENT, OTHER = "8001", "8002"   # the site's two browser agents; the peer registers no phone
LOOPBACK_ICE = ["--allow-loopback-in-peer-connection"]   # Chromium leaves 127.0.0.1 out of its candidates otherwise
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "cluster-webrtc"
JSSIP = PROJECT_ROOT / "agent_desk" / "web" / "static" / "vendor" / "jssip.min.js"
PAGE = r"""<!doctype html>
<html lang="zh-CN"><meta charset="utf-8"><title>网页电话（集群）</title>
<script src="/jssip.min.js"></script>
<audio id="remote" autoplay></audio>
<script>
// One browser softphone, as the agent page runs it (agent_desk/web/static/softphone.js): register, keep each
// incoming call for the test to answer, read and end, and place a call.
window.phone = { sessions: [], events: [] };
const loopbackOnly = (sdp) => sdp.split("\r\n").filter(
  (line) => !line.startsWith("a=candidate:") || / 127\.\d+\.\d+\.\d+ /.test(line)).join("\r\n");
// Only loopback: the ICE candidates both ways are cut to 127.x (Chromium also offers this machine's other
// interfaces, and the node its own), so the audio flows between 127.0.0.1 and the node's loopback address.
const onSdp = (e) => { e.sdp = loopbackOnly(e.sdp); };
const onPeerConnection = ({ peerconnection }) => peerconnection.addEventListener(
  "track", (e) => { document.getElementById("remote").srcObject = e.streams[0]; });
const keep = (session) => {
  phone.sessions.push(session);
  session.on("confirmed", () => phone.events.push("confirmed"));
  session.on("ended", (e) => phone.events.push(`ended ${e.originator}`));
  session.on("failed", (e) => phone.events.push(`failed ${e.cause}`));
};
window.register = (account) => new Promise((resolve) => {
  const ua = new JsSIP.UA({ sockets: [new JsSIP.WebSocketInterface(account.socket)], uri: account.uri,
                            password: account.password, register: true, session_timers: false,
                            user_agent: "hotline12345-web" });
  ua.on("newRTCSession", ({ session, originator }) => {
    if (originator !== "remote") return;   // the page's own calls: dial() below
    session.on("sdp", onSdp);
    session.on("peerconnection", onPeerConnection);
    phone.events.push(`ringing ${session.remote_identity.uri.user}`);
    keep(session);
  });
  ua.on("registered", () => resolve("registered"));
  ua.on("registrationFailed", (e) => { ua.stop(); resolve(e.cause); });
  ua.on("disconnected", () => resolve("disconnected"));   // the socket failed before any registration
  phone.ua = ua;
  phone.domain = account.uri.split("@")[1];
  ua.start();
});
// The agent dials a number (a colleague, a transfer target, a feature code): a new call, through the proxy.
window.dial = (number) => {
  phone.events.push(`dialled ${number}`);
  const eventHandlers = { sdp: onSdp, peerconnection: onPeerConnection };
  const options = { mediaConstraints: { audio: true, video: false }, eventHandlers };
  keep(phone.ua.call(`sip:${number}@${phone.domain}`, options));
};
window.mediaStats = async () => {
  const s = phone.sessions[phone.sessions.length - 1];
  if (!s || !s.connection) return null;
  const totals = { received: 0, sent: 0, dtls: "" };
  (await s.connection.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") totals.received += r.packetsReceived || 0;
    if (r.type === "outbound-rtp" && r.kind === "audio") totals.sent += r.packetsSent || 0;
    if (r.type === "transport") totals.dtls = r.dtlsState || totals.dtls;
  });
  return totals;
};
</script>
</html>
"""


@pytest.fixture(scope="module")
async def webrtc_cluster(tmp_path_factory) -> RunningCluster:
    async with running_cluster(tmp_path_factory.mktemp("cluster-webrtc"), artifacts=ARTIFACTS,
                               agents={"first": int(AGENT), "count": 2, "webrtc": True}) as running:
        yield running


@contextlib.contextmanager
def served_page() -> Iterator[str]:
    """The page and the JsSIP bundle over HTTP on 127.0.0.1 (a secure context: the microphone is allowed)."""
    files = {"/": ("text/html; charset=utf-8", PAGE.encode()), "/jssip.min.js": ("text/javascript", JSSIP.read_bytes())}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path not in files:
                self.send_error(404)
                return
            kind, body = files[self.path]
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)



@contextlib.asynccontextmanager
async def phone_page(args: list[str]) -> AsyncIterator[tuple[Any, str, list[str]]]:
    """The served JsSIP page, open in a Chromium started with ``args``: (the page, its address, the page's errors)."""
    from playwright.async_api import async_playwright

    with served_page() as url:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
            try:
                page = await (await browser.new_context(locale="zh-CN")).new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await page.goto(url)
                yield page, url, errors
            finally:
                await browser.close()


async def queue_call_echoing(cluster: RunningCluster, node_id: str) -> str:
    """A citizen's call waiting in the general queue on one node, whose side echoes what it hears (as
    RunningCluster.queue_call, with Echo instead of Wait: the browser's microphone comes back to it)."""
    cid = f"w{node_id}-{time.monotonic_ns()}"
    await cluster.nodes[node_id].ami.originate(
        f"Local/s@{v.CTX_QUEUE}", caller_id=f'"市民" <{CITIZEN}>', channel_id=cid, application="Echo", data="",
        timeout_ms=120000, variables={f"__{v.QUEUE}": GENERAL_QUEUE, f"__{v.CALL_ID}": cid, f"__{v.LINE}": "12345"})
    return cid


async def test_a_browser_registered_with_the_proxy_answers_a_call_from_a_node_with_audio_both_ways(
        webrtc_cluster: RunningCluster) -> None:
    cluster = webrtc_cluster
    assert cluster.site.cluster is not None
    account = BrowserPhones.for_site(cluster.site, cluster.secrets.directory).credentials(
        AGENT, "127.0.0.1", secure=False)
    # the desk sends the page to the proxy's WebSocket, not to a node's HTTP server
    assert account["socket"] == f"ws://127.0.0.1:{cluster.site.cluster.ws_port}/ws", account
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with phone_page(CHROMIUM_FLAGS + FAKE_MICROPHONE + LOOPBACK_ICE) as (page, url, errors):
        # A wrong password is refused by the proxy, and leaves no contact.
        wrong = {**account, "uri": f"sip:{OTHER}@127.0.0.1", "password": "not-the-generated-one"}
        other = await page.context.new_page()
        await other.goto(url)
        assert await other.evaluate("(a) => register(a)", wrong) == "Authentication Error"
        await other.close()
        assert cluster.proxy.contacts(OTHER) == []

        # The right one: one WebSocket contact at the proxy.
        assert await page.evaluate("(a) => register(a)", account) == "registered"
        contacts = cluster.proxy.contacts(AGENT)
        assert len(contacts) == 1 and "transport=ws" in contacts[0], contacts

        for node in cluster.nodes.values():
            await agents.login(node.ami, AGENT, [GENERAL_QUEUE])
        try:
            await ring_answer_and_talk(cluster, page)
        finally:
            for node in cluster.nodes.values():
                with contextlib.suppress(Exception):
                    await agents.logout(node.ami, AGENT)
        assert errors == []


async def answer(cluster: RunningCluster, page, node_id: str, cid: str, call: int) -> str:
    """The browser's ``call``-th incoming call (0-based) rings with the citizen, is answered, and the node's queue
    connects it; DTLS up and audio both ways; the node's agent channel."""
    node = cluster.nodes[node_id]
    await eventually(lambda: page.evaluate(f"phone.sessions.length > {call}"), f"the browser ringing ({node_id})")
    assert await page.evaluate(f"phone.sessions[{call}].remote_identity.uri.user") == CITIZEN
    clicked = time.monotonic()
    await page.evaluate(f"phone.sessions[{call}].answer({{ mediaConstraints: {{ audio: true, video: false }} }})")
    connect = await node.events.wait_for(lambda e: e.name == "AgentConnect" and e.get("Linkedid") == cid, 20,
                                         f"{node_id}'s queue connecting the browser")
    agent_channel = connect["DestChannel"]
    assert agent_channel.startswith(f"PJSIP/{AGENT}-"), agent_channel
    stats = await eventually(lambda: media_flowing(page, "mediaStats()"),
                             f"DTLS connected and audio both ways ({node_id})")
    print(f"\n[cluster-webrtc] the browser answered {node_id}'s call: audio both ways "
          f"{time.monotonic() - clicked:.1f} s after the answer: {stats}")
    assert cluster.proxy.agent_calls(AGENT) == 1
    # the media does not go through the proxy: the node sends the agent's audio to the browser's own ICE address
    local_port = await page.evaluate("""async () => {
        const s = phone.sessions[phone.sessions.length - 1]; let pair = null; const byId = {};
        (await s.connection.getStats()).forEach((r) => { byId[r.id] = r;
            if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded") pair = r; });
        return pair ? byId[pair.localCandidateId].port : null; }""")
    dest = await node.ami.action({"Action": "Getvar", "Channel": agent_channel, "Variable": "CHANNEL(rtp,dest)"})
    assert dest.get("Value") == f"127.0.0.1:{local_port}", (dest, local_port)
    return agent_channel


async def hang_up_call(node, cid: str) -> None:
    for event in node.events.find(lambda e: e.name == "Newchannel" and e.get("Linkedid") == cid):
        with contextlib.suppress(Exception):
            await node.ami.hangup(event["Channel"])


async def ring_answer_and_talk(cluster: RunningCluster, page) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    n2_mark = n2.events.mark()
    cid = await queue_call_echoing(cluster, "n2")
    agent_channel = await answer(cluster, page, "n2", cid, 0)
    answered = time.monotonic()
    await page.screenshot(path=str(ARTIFACTS / "browser-on-n2-call.png"))

    # 每个坐席只振铃一次: n1's queue call to the same agent is refused at the proxy and never reaches the browser
    n1_mark = n1.events.mark()
    busy_before = cluster.proxy.busy_replies(AGENT)
    second = await cluster.queue_call("n1", GENERAL_QUEUE)
    await n1.events.wait_for(
        lambda e: e.name == "Hangup" and e.get("Channel").startswith(f"PJSIP/{AGENT}-") and e.get("Cause") == "17",
        20, f"n1's queue finding agent {AGENT} busy at the proxy", since=n1_mark)
    assert cluster.proxy.busy_replies(AGENT) > busy_before
    assert await page.evaluate("phone.sessions.length") == 1
    await hang_up_call(n1, second)

    # The proxy's keep-alive (OPTIONS inside the call every 30 s) leaves a live browser call alone: 55 s on, the
    # call is still up with audio flowing, and the agent still counted busy.
    before = (await media_flowing(page, "mediaStats()") or {}).get("received", 0)
    await asyncio.sleep(max(0.0, 55 - (time.monotonic() - answered)))
    assert not n2.events.find(lambda e: e.name == "Hangup" and e.get("Channel") == agent_channel), \
        "the browser's call ended by itself"
    after = await media_flowing(page, "mediaStats()")
    assert after and after["received"] > before + 1000, (before, after)   # 50 packets a second
    assert cluster.proxy.agent_calls(AGENT) == 1

    # the browser hangs up: the call ends on n2, and the proxy counts the agent free
    await page.evaluate("phone.sessions[0].terminate()")
    await n2.events.wait_for(lambda e: e.name == "Hangup" and e.get("Channel") == agent_channel, 10,
                             "the browser's channel ending on n2", since=n2_mark)
    await eventually(lambda: asyncio.to_thread(lambda: cluster.proxy.agent_calls(AGENT) == 0),
                     "the proxy counting the agent free", timeout=10)
    assert await page.evaluate("phone.events") == [f"ringing {CITIZEN}", "confirmed", "ended local"]
    await hang_up_call(n2, cid)

    # n1 reaches the same browser; then the browser vanishes mid-call (its page closed: no BYE): n1 notices the
    # missing audio (rtp_timeout) and hangs up, which frees the agent at the proxy
    n1_mark = n1.events.mark()
    third = await queue_call_echoing(cluster, "n1")
    agent_channel = await answer(cluster, page, "n1", third, 1)
    closed = time.monotonic()
    await page.close()
    await n1.events.wait_for(lambda e: e.name == "Hangup" and e.get("Channel") == agent_channel, 60,
                             "n1 ending the vanished browser's call", since=n1_mark)
    ended = time.monotonic() - closed
    await eventually(lambda: asyncio.to_thread(lambda: cluster.proxy.agent_calls(AGENT) == 0),
                     "the proxy counting the agent free after the browser vanished", timeout=10)
    print(f"[cluster-webrtc] browser closed mid-call: n1 ended the call {ended:.1f} s later (rtp_timeout 30 s), "
          f"the agent free at the proxy {time.monotonic() - closed:.1f} s later")
    await hang_up_call(n1, third)



# ── the browser's own call, through the proxy ─────────────────────────────
SUBCENTER = "12366"   # a transfer target in the agents' context: each node dials it on its own trunk (the peer)


async def test_a_browser_places_a_call_through_the_proxy_on_a_node_as_its_agent(
        webrtc_cluster: RunningCluster) -> None:
    cluster = webrtc_cluster
    # the peer, as the sub-center, answers and sends audio (music on hold)
    await cluster.peer_ami.action({"Action": "DBPut", "Family": "gateway", "Key": SUBCENTER, "Val": "talk"})
    account = BrowserPhones.for_site(cluster.site, cluster.secrets.directory).credentials(
        OTHER, "127.0.0.1", secure=False)
    placed = f"agent {OTHER} calls {SUBCENTER} through node"   # kamailio.cfg's FROM_AGENT, after the login
    async with phone_page(CHROMIUM_FLAGS + FAKE_MICROPHONE + LOOPBACK_ICE) as (page, url, errors):
        try:
            assert await page.evaluate("(a) => register(a)", account) == "registered"
            marks, before = cluster.marks(), cluster.proxy._log_count(placed)
            dialled = time.monotonic()
            await page.evaluate(f"dial('{SUBCENTER}')")

            # a node runs it in the agents' context as agent 8002, and dials the sub-center on its trunk
            node_id, dial = await poll(lambda: cluster.seen(marks, lambda e: (
                e.name == "DialBegin" and e.get("Channel").startswith(f"PJSIP/{OTHER}-"))), 20,
                "a node dialling the sub-center for the browser")
            assert dial.get("Context") == v.CTX_AGENTS and dial.get("Exten") == SUBCENTER, dial
            assert dial.get("DestChannel").startswith("PJSIP/trunk-"), dial
            assert cluster.proxy._log_count(placed) == before + 1
            node, agent_channel = cluster.nodes[node_id], dial.get("Channel")
            stats = await eventually(lambda: media_flowing(page, "mediaStats()"),
                                     f"DTLS connected and audio both ways with the sub-center via {node_id}")
            print(f"\n[cluster-webrtc] the browser's own call to {SUBCENTER} on {node_id}: audio both ways "
                  f"{time.monotonic() - dialled:.1f} s after dialling: {stats}")
            # the agent's own call counts as the agent's call at the proxy (no node offers it a queue call)
            assert cluster.proxy.agent_calls(OTHER) == 1
            await asyncio.sleep(2)   # the call goes on, the sub-center's music still coming (50 packets a second)
            after = await media_flowing(page, "mediaStats()")
            assert after and after["received"] > stats["received"] + 50, (stats, after)
            assert await page.evaluate("phone.events") == [f"dialled {SUBCENTER}", "confirmed"]

            # the node ends the call: its BYE reaches the browser over its connection (the contact's alias)
            await node.ami.hangup(agent_channel)
            await eventually(lambda: page.evaluate("phone.events.includes('ended remote')"),
                             "the node's hang-up reaching the browser", timeout=10)
            await eventually(lambda: asyncio.to_thread(lambda: cluster.proxy.agent_calls(OTHER) == 0),
                             "the proxy counting the agent free", timeout=10)
            # the node's call record: the agent's call to the sub-center, answered, tagged as a hand-off
            cdr = await node.events.wait_for(lambda e: e.name == "Cdr" and e.get("Channel") == agent_channel,
                                             10, f"{node_id}'s call record of the browser's call",
                                             since=marks[node_id])
            assert cdr.get("Source") == OTHER and cdr.get("Destination") == SUBCENTER, cdr
            assert cdr.get("Disposition") == "ANSWERED" and int(cdr.get("BillableSeconds")) >= 1, cdr
            assert cdr.get("DestinationChannel").startswith("PJSIP/trunk-"), cdr
            assert cdr.get("UserField").endswith(f"/transfer-{SUBCENTER}"), cdr
            assert errors == []
            await page.evaluate("""() => new Promise((resolve) => {
                phone.ua.on("unregistered", resolve); phone.ua.unregister(); })""")
            assert cluster.proxy.contacts(OTHER) == []   # the wss tests below register 8002 afresh
        finally:
            await cluster.peer_ami.action({"Action": "DBDel", "Family": "gateway", "Key": SUBCENTER})
            await cluster.hang_up_peer_calls()


# ── wss:// at the proxy, with the generated certificate ────────────────────
async def test_sip_over_wss_at_the_proxy_uses_the_generated_certificate_and_password(
        webrtc_cluster: RunningCluster) -> None:
    cluster = webrtc_cluster
    assert cluster.site.cluster is not None
    pem = cluster.secrets.path(confgen.TLS_SECRET)
    tls = ssl.create_default_context(cafile=str(pem))    # trust exactly the certificate made at install
    url = f"wss://127.0.0.1:{cluster.site.cluster.wss_port}/ws"
    password = cluster.secrets.get(f"sip-agent-{OTHER}")
    async with websockets.connect(url, ssl=tls, subprotocols=["sip"]) as socket:
        await sip.wss_login_checks(socket, pem.read_text(), OTHER, password,
                                   refused=lambda: cluster.proxy.contacts(OTHER) == [] or pytest.fail("registered"))
        contacts = cluster.proxy.contacts(OTHER)
        assert len(contacts) == 1 and "hotline-test.invalid" in contacts[0], contacts
        await sip.ws_unregister(socket, OTHER, password)                                 # leave no contact
        assert cluster.proxy.contacts(OTHER) == []
    # the proxy's WebSocket ports take only the handshake at /ws
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await websockets.connect(url.replace("/ws", "/other"), ssl=tls, subprotocols=["sip"])
    assert refused.value.response.status_code == 404
    # and only from the agents' networks (agents.permit: 127.0.0.1; 127.0.0.9 is loopback too, but outside it)
    plain = f"ws://127.0.0.1:{cluster.site.cluster.ws_port}/ws"
    with pytest.raises(websockets.exceptions.InvalidStatus) as outside:
        await websockets.connect(plain, subprotocols=["sip"], local_addr=("127.0.0.9", 0))
    assert outside.value.response.status_code == 403
    async with websockets.connect(plain, subprotocols=["sip"], local_addr=("127.0.0.1", 0)) as inside:
        assert inside.subprotocol == "sip"


async def test_chromium_registers_with_the_proxy_over_wss(webrtc_cluster: RunningCluster) -> None:
    """The page of a desk served over HTTPS gets wss:// (BrowserPhones); Chromium, trusting exactly the generated
    certificate (by its public key's hash, as a site would by installing it), registers over it at the proxy."""
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cluster = webrtc_cluster
    assert cluster.site.cluster is not None
    account = BrowserPhones.for_site(cluster.site, cluster.secrets.directory).credentials(
        OTHER, "127.0.0.1", secure=True)
    assert account["socket"] == f"wss://127.0.0.1:{cluster.site.cluster.wss_port}/ws", account
    cert = x509.load_pem_x509_certificate(cluster.secrets.path(confgen.TLS_SECRET).read_bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    trust = [f"--ignore-certificate-errors-spki-list={base64.b64encode(hashlib.sha256(spki).digest()).decode()}"]
    async with phone_page(CHROMIUM_FLAGS + trust) as (page, url, errors):
        assert await page.evaluate("(a) => register(a)", account) == "registered"
        contacts = cluster.proxy.contacts(OTHER)
        assert len(contacts) == 1 and "transport=ws" in contacts[0], contacts
        await page.evaluate("""() => new Promise((resolve) => {
            phone.ua.on("unregistered", resolve); phone.ua.unregister(); })""")
        assert cluster.proxy.contacts(OTHER) == []

