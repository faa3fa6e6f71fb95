"""Agent control from the desk, end to end: a real desk (uvicorn, its own AMI connection as ``app.state.telephony``)
drives the real Asterisk over HTTP as a supervisor: log an agent in to two queues, pause it with a reason,
store its skills and see them applied at its next login, log it out; then listen, whisper and barge on a
citizen's call to that agent from the supervisor's own softphone (the peer, registered as 8003), asserted
from AMI (ChanSpyStart on the agent's channel, ChanSpy's options on the spy channel). Refusals: an agent
gets 403 (audited), spying on an idle agent 409, a desk without AMI 503."""

from __future__ import annotations


import httpx
import pytest
from sqlalchemy import select

from agent_desk.bootstrap import AMI_USER
from agent_desk.calls import events as call_events
from agent_desk.db.models import AgentSkill, AuditEntry, User
from agent_desk.telephony import agents
from agent_desk.telephony.link import TelephonyLink
from agent_desk.calls import transcript
from agent_desk.telephony.spy import stop_spy
from hotline import channelvars as v
from hotline.ami import AmiClient
from tests.support.agents import citizen_reaches_agent, hang_up_everything, logged_in, softphones, wait_registered
from tests.support.center import Center
from tests.support.desk import DeskRig, close_rig, make_rig, served
from tests.support.events import named

pytestmark = pytest.mark.asterisk


class Desk:
    def __init__(self, rig: DeskRig, http: httpx.AsyncClient, agent: str, agent2: str, supervisor: str):
        self.rig, self.http = rig, http
        self.agent, self.agent2, self.supervisor = agent, agent2, supervisor

    async def call(self, who: str, method: str, url: str, **kwargs) -> httpx.Response:
        return await self.http.request(method, url, headers=self.rig.as_(who), **kwargs)

    def audit(self, who: str, action: str) -> list[AuditEntry]:
        with self.rig.app.state.db.session() as session:
            return list(session.scalars(select(AuditEntry).where(AuditEntry.username == self.rig.user(who),
                                                                 AuditEntry.action == action)))


@pytest.fixture(scope="module")
async def desk(center: Center, new_database, redis_server):
    agent, agent2, supervisor = softphones(center)[:3]
    rig = make_rig(new_database("sqlite"), redis_server.authenticated_url)
    with rig.app.state.db.session() as session:
        for short, ext in (("agent", agent), ("agent2", agent2), ("boss", supervisor)):
            session.scalar(select(User).where(User.username == rig.user(short))).extension = ext
    ami = AmiClient("127.0.0.1", center.site.ami_port, AMI_USER, center.secrets.get("ami"))  # the desk's own
    await ami.connect()
    rig.app.state.telephony = TelephonyLink(ami, center.plan, center.site)
    try:
        async with served(rig) as url:
            for ext in (agent, agent2, supervisor):
                assert (await wait_registered(center, ext)).registered, ext
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                yield Desk(rig, http, agent, agent2, supervisor)
    finally:
        ami.close()
        close_rig(rig)
        await hang_up_everything(center)


def queue_pause(ext: str, paused: str):
    return lambda e: (e.name == "QueueMemberPause" and e.get("Interface") == f"PJSIP/{ext}"
                      and e.get("Paused") == paused)


async def test_a_supervisor_logs_an_agent_in_pauses_it_with_a_reason_and_logs_it_out(center: Center, desk: Desk):
    ext = desk.agent
    r = await desk.call("boss", "POST", f"/api/v1/agents/{ext}/login", json={"queues": ["province", "leaders"]})
    assert r.status_code == 200, r.text
    assert {q["queue"] for q in r.json()["queues"]} == {"province", "leaders"} and r.json()["registered"]
    assert {m.queue for m in await agents.memberships(center.ami, ext)} == {"province", "leaders"}  # QueueStatus

    listed = (await desk.call("boss", "GET", "/api/v1/agents")).json()
    row = next(a for a in listed["agents"] if a["extension"] == ext)
    assert row["logged_in"] and row["registered"] and not row["paused"] and row["user"] == desk.rig.user("agent")
    assert {"queue": "leaders", "name": "领导接话专席"} in listed["queues"]

    reasons = (await desk.call("agent", "GET", "/api/v1/pause-reasons")).json()   # agents pick from them too
    assert {"code": "training", "label": "培训", "default": False} in reasons
    assert [r["label"] for r in reasons if r["default"]] == ["小休"]
    mark = center.events.mark()
    r = await desk.call("boss", "POST", f"/api/v1/agents/{ext}/pause", json={"reason": "training"})
    assert r.status_code == 200, r.text
    paused = await center.events.wait_for(queue_pause(ext, "1"), 10, "QueueMemberPause (paused)", since=mark)
    assert paused.get("PausedReason") == "training"
    assert all(q["paused"] and q["reason"] == "training" and q["reason_label"] == "培训" for q in r.json()["queues"])
    assert all(m.paused and m.reason == "training" for m in await agents.memberships(center.ami, ext))

    r = await desk.call("boss", "POST", f"/api/v1/agents/{ext}/pause", json={"reason": "nap"})
    assert r.status_code == 422 and r.json()["error"] == "unknown_pause_reason" and "nap" in r.json()["message"]

    mark = center.events.mark()
    r = await desk.call("boss", "POST", f"/api/v1/agents/{ext}/unpause")
    assert r.status_code == 200 and not any(q["paused"] for q in r.json()["queues"])
    await center.events.wait_for(queue_pause(ext, "0"), 10, "QueueMemberPause (resumed)", since=mark)

    r = await desk.call("boss", "POST", f"/api/v1/agents/{ext}/logout")
    assert r.status_code == 200 and r.json()["queues"] == []
    assert await agents.memberships(center.ami, ext) == []
    assert [e.detail for e in desk.audit("boss", "agent_pause")] == ["reason training"]
    assert desk.audit("boss", "agent_login") and desk.audit("boss", "agent_logout")

    assert (await desk.call("agent", "POST", f"/api/v1/agents/{ext}/login")).status_code == 403   # not for agents
    assert (await desk.call("boss", "POST", "/api/v1/agents/9999/login")).status_code == 404
    link, desk.rig.app.state.telephony = desk.rig.app.state.telephony, None
    try:
        down = await desk.call("boss", "GET", "/api/v1/agents")
        assert down.status_code == 503 and down.json()["error"] == "telephony_unavailable"
    finally:
        desk.rig.app.state.telephony = link


async def test_skills_are_stored_and_applied_at_the_agents_next_login(center: Center, desk: Desk):
    ext = desk.agent2
    skills = {"queues": [{"queue": "province", "penalty": 0}, {"queue": "expert-12320", "penalty": 5}]}
    assert (await desk.call("agent2", "PUT", f"/api/v1/agents/{ext}/skills", json=skills)).status_code == 403
    bad = await desk.call("boss", "PUT", f"/api/v1/agents/{ext}/skills", json={"queues": [{"queue": "nosuch"}]})
    assert bad.status_code == 422 and bad.json()["error"] == "unknown_queue" and "号码规划" in bad.json()["message"]

    r = await desk.call("boss", "PUT", f"/api/v1/agents/{ext}/skills", json=skills)
    assert r.status_code == 200, r.text
    with desk.rig.app.state.db.session() as session:
        stored = {(s.queue, s.penalty) for s in session.scalars(select(AgentSkill).where(AgentSkill.extension == ext))}
    assert stored == {("province", 0), ("expert-12320", 5)}
    state = (await desk.call("boss", "GET", f"/api/v1/agents/{ext}")).json()
    assert state["skills_source"] == "stored" and state["queues"] == []   # not logged in: applies at next login

    # The agent logs itself in from its page: its stored skills, with their penalties, reach the queues.
    r = await desk.call("agent2", "POST", "/api/v1/agents/me/login")
    assert r.status_code == 200, r.text
    me = r.json()
    assert set(me) == {"extension", "queues", "registered"} and me["extension"] == ext and me["registered"]
    assert all(set(q) == {"queue", "name", "paused", "reason", "reason_label", "in_call"} for q in me["queues"])
    live = {m.queue: m.penalty for m in await agents.memberships(center.ami, ext)}
    assert live == {"province": 0, "expert-12320": 5}

    mark = center.events.mark()
    r = await desk.call("agent2", "POST", "/api/v1/agents/me/pause")   # no reason: the site's default (小休)
    assert r.status_code == 200 and {q["reason_label"] for q in r.json()["queues"]} == {"小休"}
    paused = await center.events.wait_for(queue_pause(ext, "1"), 10, "QueueMemberPause", since=mark)
    assert paused.get("PausedReason") == center.site.agents.pause_default
    assert (await desk.call("agent2", "POST", "/api/v1/agents/me/logout")).json()["queues"] == []
    assert await agents.memberships(center.ami, ext) == []


async def test_listen_whisper_and_barge_on_an_agents_call(center: Center, desk: Desk):
    ext, supervisor = desk.agent, desk.supervisor
    idle = await desk.call("boss", "POST", "/api/v1/calls/spy", json={"agent": ext, "mode": "listen"})
    assert idle.status_code == 409 and idle.json()["error"] == "no_live_call", idle.text
    assert any("no live call" in e.detail for e in desk.audit("boss", "spy"))

    async with logged_in(center, ext):
        call = await citizen_reaches_agent(center, ext)
        refused = await desk.call("agent2", "POST", "/api/v1/calls/spy", json={"agent": ext, "mode": "barge"})
        assert refused.status_code == 403
        assert [e.object_id for e in desk.audit("agent2", "spy")] == [ext]

        for mode, options in (("listen", "qES"), ("whisper", "qESw"), ("barge", "qESB")):
            mark = center.events.mark()
            r = await desk.call("boss", "POST", "/api/v1/calls/spy", json={"agent": ext, "mode": mode})
            assert r.status_code == 202, r.text
            spied = r.json()
            assert spied["call_id"] == call.call_id and spied["agent_channel"] == call.agent_channel
            # The call's live transcript now also goes to this supervisor's /ws/desk (agent_desk.calls.transcript).
            listening = desk.rig.app.state.redis.hgetall(transcript.LIVE_SPY.format(call_id=call.call_id))
            assert spied["spy_channel_id"] in listening.values()
            start = await center.events.wait_for(
                named("ChanSpyStart", SpyeeChannel=call.agent_channel), 20, f"ChanSpyStart ({mode})", since=mark)
            spyer = start["SpyerChannel"]
            assert spyer.startswith(f"PJSIP/{supervisor}-")
            channels = {e["Channel"]: e for e in await center.ami.action_list({"Action": "CoreShowChannels"})
                        if e.name == "CoreShowChannel"}
            assert channels[spyer]["Application"] == "ChanSpy"
            assert channels[spyer]["ApplicationData"] == f"{call.agent_channel},{options}"
            assert channels[spyer]["Uniqueid"] == spied["spy_channel_id"]
            assert call.agent_channel in channels   # the call goes on while it is spied on
            assert await stop_spy(center.ami, spied["spy_channel_id"])
            ended = await center.events.wait_for(named("Hangup", Channel=spyer), 10, f"the {mode} channel ends",
                                                 since=mark)
            assert ended.vars.get(v.CALL_ID) == call.call_id and call_events.parse(ended) is None  # not a call itself
        modes = [e.detail.split(",")[0] for e in desk.audit("boss", "spy") if e.object_id == call.call_id]
        assert modes == ["mode listen", "mode whisper", "mode barge"]


async def test_the_agents_page_drives_the_phone_system(center: Center, desk: Desk):
    """坐席管理 in Chromium: the supervisor signs an agent in, pauses it for a meeting, and signs it out."""
    from playwright.async_api import async_playwright, expect

    from tests.support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS

    ext = desk.agent
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            context = await browser.new_context(locale="zh-CN")
            token = desk.rig.as_("boss")["Authorization"].split()[1]
            await context.add_cookies([{"name": "hotline_session", "value": token, "url": str(desk.http.base_url)}])
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(str(desk.http.base_url.join("/agents.html")))
            row = page.locator(f'tr[data-extension="{ext}"]')
            await expect(row).to_contain_text("已注册")
            await expect(row).to_contain_text("未签入")
            await expect(page.locator('nav a[aria-current="page"]')).to_have_text("坐席管理")

            await row.locator('button[data-act="login"]').click()
            await expect(row).to_contain_text("空闲")
            assert {m.queue for m in await agents.memberships(center.ami, ext)} == {"province"}   # the site default

            mark = center.events.mark()
            await row.locator("select").select_option(label="会议")
            await row.locator('button[data-act="pause"]').click()
            await expect(row).to_contain_text("置忙：会议")
            paused = await center.events.wait_for(queue_pause(ext, "1"), 10, "QueueMemberPause", since=mark)
            assert paused.get("PausedReason") == "meeting"
            await expect(row.locator('button[data-act="listen"]')).to_be_disabled()   # no call to listen to
            await page.screenshot(path=str(ARTIFACTS / "agents-page-paused.png"), full_page=True)

            await row.locator('button[data-act="logout"]').click()
            await expect(row).to_contain_text("未签入")
            assert await agents.memberships(center.ami, ext) == []
            assert errors == []
        finally:
            await browser.close()


async def test_the_desks_ami_user_cannot_run_a_shell_nor_cli_commands(center: Center, desk: Desk):
    """Least privilege: the desk's AMI secret drives calls and agents (the tests above), never the system. An Originate
    to the System application, and the Command action, are refused with Asterisk's permission errors."""
    from hotline.ami import AmiError

    ami = AmiClient("127.0.0.1", center.site.ami_port, AMI_USER, center.secrets.get("ami"))
    await ami.connect()
    try:
        with pytest.raises(AmiError, match="Originate Access Forbidden|System privilege"):
            await ami.action({"Action": "Originate", "Channel": "Local/s@hotline-nowhere", "Application": "System",
                              "Data": "touch /tmp/hotline-ami-shell", "Async": "true"})
        with pytest.raises(AmiError, match="[Pp]ermission denied"):
            await ami.action({"Action": "Command", "Command": "core show uptime"})
        with pytest.raises(AmiError, match="[Pp]ermission denied"):
            await ami.action({"Action": "MixMonitor", "Channel": "PJSIP/x", "File": "/tmp/x.wav",
                              "Command": "rm -rf /"})
        assert (await ami.action({"Action": "Ping"})).get("Response") == "Success"
    finally:
        ami.close()
