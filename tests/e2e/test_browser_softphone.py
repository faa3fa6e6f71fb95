"""Browser softphones (网页电话) end to end: a center of its own with ``agents.webrtc: true`` (a WebRTC endpoint
cannot serve the peer's plain SIP phones), the real desk under uvicorn, and Debian's Chromium with a synthetic
microphone running the agent page.

- The page fetches its extension's registration from the desk and registers over ``ws://…/ws`` (JsSIP); the
  center's PJSIP contacts show it. A wrong password is refused.
- 签入 on the page; a citizen's call joins the queue, rings the page, the agent clicks 接听: AMI shows the queue
  connecting the browser's channel, the browser's WebRTC statistics show DTLS up and audio both ways (the
  citizen's side echoes the browser's microphone), and the screen pop shows the caller. 挂断 on the page ends
  the channel.
- ``wss://`` on the HTTPS port with the certificate generated at install: a SIP REGISTER over it is challenged
  and then accepted with the digest of the generated password; the certificate checks against that file.
"""

from __future__ import annotations

import contextlib
import ssl

import httpx
import pytest
import websockets
from sqlalchemy import select

from agent_desk.db import models as m
from agent_desk.telephony import agents
from hotline import channelvars as v
from hotline import confgen
from hotline.numberplan import GENERAL_QUEUE
from hotline.paths import PROJECT_ROOT
from tests.support.agents import CITIZEN
from tests.support import sip
from tests.support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, FAKE_MICROPHONE, eventually, media_flowing
from tests.support.center import Center, running_center
from tests.support.desk import center_desk
from tests.support.events import named

pytestmark = pytest.mark.asterisk

EXTENSION = "8101"


@pytest.fixture(scope="module")
async def webrtc_center(tmp_path_factory) -> Center:
    async with running_center(tmp_path_factory.mktemp("webrtc-home"),
                              artifacts=PROJECT_ROOT / "test-artifacts" / "asterisk-webrtc",
                              agents={"first": int(EXTENSION), "count": 2, "webrtc": True}) as running:
        yield running


@contextlib.asynccontextmanager
async def served_desk(center: Center, database_url: str, redis_url: str):
    """The desk over HTTP on loopback with its listener and phone link (browser phones: the site's
    ``agents.webrtc``), its agent bound to the browser's extension."""
    async with center_desk(center, database_url, redis_url) as desk:
        with desk.rig.app.state.db.session() as session:
            session.scalar(select(m.User).where(m.User.username == desk.rig.user("agent"))).extension = EXTENSION
        yield desk.rig, desk.url



async def test_an_agent_page_registers_rings_answers_and_hangs_up_over_webrtc(webrtc_center: Center, new_database,
                                                                             redis_server):
    from playwright.async_api import async_playwright, expect

    center = webrtc_center
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with served_desk(center, new_database("sqlite"), redis_server.authenticated_url) as (rig, url), \
            async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                   args=CHROMIUM_FLAGS + FAKE_MICROPHONE)
        try:
            context = await browser.new_context(locale="zh-CN")
            await context.add_cookies([{"name": "hotline_session", "value": rig.login("agent"), "url": url}])
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{url}/agent.html")

            # Registered from the browser: the page says so and the center's contacts show a websocket contact.
            await expect(page.locator("#softphone-state")).to_have_text("空闲", timeout=30_000)
            reg = await agents.registration(center.ami, EXTENSION)
            assert reg.registered and any("transport=ws;" in uri.lower() for uri in reg.contacts), reg
            assert reg.user_agent == "hotline12345-web", reg
            assert [e.detail for e in rig_audit(rig, "softphone_credentials")] == \
                [f"ws://127.0.0.1:{center.site.http_port}/ws"]

            # A wrong password from a browser is refused.
            cause = await page.evaluate("""(socket) => new Promise((resolve) => {
                const ua = new JsSIP.UA({ sockets: [new JsSIP.WebSocketInterface(socket)],
                                          uri: "sip:8102@127.0.0.1", password: "not-the-generated-one" });
                ua.on("registered", () => { ua.stop(); resolve("registered"); });
                ua.on("registrationFailed", (e) => { ua.stop(); resolve(e.cause); });
                ua.start();
            })""", f"ws://127.0.0.1:{center.site.http_port}/ws")
            assert cause == "Authentication Error"
            assert not (await agents.registration(center.ami, "8102")).registered

            # 签入 without a registered phone is refused, in Chinese, whoever asks (8102 has never registered).
            with rig.app.state.db.session() as session:
                session.scalar(select(m.User).where(m.User.username == rig.user("agent2"))).extension = "8102"
            async with httpx.AsyncClient(base_url=url) as http:   # over HTTP: the desk's AMI link runs on this loop
                refused = await http.post("/api/v1/agents/me/login", headers=rig.as_("agent2"))
            assert refused.status_code == 409 and refused.json()["error"] == "phone_not_registered", refused.text
            assert "8102的话机未注册，不能签入" in refused.json()["message"]
            assert await agents.memberships(center.ami, "8102") == []   # no queue was touched

            # 签入 on the page asks first, then puts the browser's extension in its queues.
            mark = center.events.mark()
            await page.locator("#agent-login").click()
            await expect(page.locator("#login-confirm")).to_be_visible()
            await page.locator("#login-yes").click()
            await center.events.wait_for(named("QueueMemberAdded", Interface=f"PJSIP/{EXTENSION}"), 10,
                                         "the agent joins its queue", since=mark)
            try:
                cid = center.new_call_id()
                mark = center.events.mark()
                # The citizen's side echoes what it hears: the browser's synthetic microphone comes back to it.
                await center.ami.originate(
                    "Local/s@hotline-queue", caller_id=f'"市民" <{CITIZEN}>', channel_id=cid, application="Echo",
                    data="", variables={f"__{v.QUEUE}": GENERAL_QUEUE, f"__{v.CALL_ID}": cid,
                                        f"__{v.LINE}": "12345"})
                await expect(page.locator("#softphone-state")).to_have_text("来电振铃")
                await expect(page.locator("#softphone-peer")).to_contain_text(CITIZEN)
                await page.locator("#softphone-answer").click()

                connect = await center.events.wait_for(
                    lambda e: e.name == "AgentConnect" and e.get("Linkedid") == cid, 20,
                    "the queue connects the browser", since=mark)
                agent_channel = connect["DestChannel"]
                assert agent_channel.startswith(f"PJSIP/{EXTENSION}-"), agent_channel
                await expect(page.locator("#softphone-state")).to_have_text("通话中")
                stats = await eventually(
                    lambda: media_flowing(page), "DTLS connected and audio in both directions", timeout=20)
                assert stats["dtls"] == "connected" and stats["received"] > 10 and stats["sent"] > 10, stats
                await page.screenshot(path=str(ARTIFACTS / "agent-webrtc-call.png"), full_page=True)

                await expect(page.locator("#call-caller")).to_have_text(CITIZEN)    # the screen pop

                await page.locator("#softphone-hangup").click()
                await center.events.wait_for(named("Hangup", Channel=agent_channel), 10,
                                             "the browser's channel ends", since=mark)
                await expect(page.locator("#softphone-peer")).to_contain_text("通话已结束")
            finally:
                await agents.logout(center.ami, EXTENSION)
            assert errors == []
        finally:
            await browser.close()



def rig_audit(rig, action: str) -> list[m.AuditEntry]:
    with rig.app.state.db.session() as session:
        return list(session.scalars(select(m.AuditEntry).where(m.AuditEntry.action == action)))


# ── wss:// with the generated certificate ─────────────────────────────────
async def test_sip_over_wss_uses_the_generated_certificate_and_the_generated_password(webrtc_center: Center):
    center = webrtc_center
    pem = center.secrets.path(confgen.TLS_SECRET)
    tls = ssl.create_default_context(cafile=str(pem))    # trust exactly the certificate made at install
    url = f"wss://127.0.0.1:{center.site.https_port}/ws"
    password = center.secrets.get(f"sip-agent-{EXTENSION}")
    async with websockets.connect(url, ssl=tls, subprotocols=["sip"]) as socket:
        await sip.wss_login_checks(socket, pem.read_text(), EXTENSION, password)
        reg = await agents.registration(center.ami, EXTENSION)
        assert reg.user_agent == "hotline-register-check" and "hotline-test.invalid" in reg.contacts[0], reg
        await sip.ws_unregister(socket, EXTENSION, password)                                 # leave no contact

