"""人工回访复核 on the 回访工作台 (/revisits.html), in a real Chromium against the real desk: a ticket whose automated
回访 was answered by voice (the runner claimed the call, the IVR's result went through ``revisit.apply_result`` as
the desk's stream consumer applies it) is listed for review with what the speech engine heard (语音回答, numbers
masked) and no keys; one answered by keys shows 按键 and no 语音回答. No 5xx, failed request or console error."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect
from sqlalchemy import select

from agent_desk.callbacks import campaign as cp
from agent_desk.callbacks import revisit
from agent_desk.callbacks.rules import CallbackPolicy
from agent_desk.callbacks.runner import CampaignRunner
from agent_desk.db import models as m
from agent_desk.tickets import service
from hotline.contracts.revisit import RevisitEntry
from tests.browser.test_desk_ui import assert_clean, login, logout
from tests.support.desk import principal

POLICY = CallbackPolicy(quiet_start=dt.time(21, 0), quiet_end=dt.time(8, 0), retry_minutes=(10, 30),
                        outbound_channels=4)
HEARD = "没解决 / 不满意，电话13912345678打了好几次都没人管"


def test_the_review_list_shows_what_a_voice_verdict_was_taken_from(page, desk):
    now = dt.datetime.now(dt.UTC)
    at = dt.datetime.combine(dt.datetime.now(POLICY.tz).date(), dt.time(10, 0), tzinfo=POLICY.tz).astimezone(dt.UTC)
    with desk.db.session() as session:
        agent = principal(session, desk.users["agent"])

        def awaiting(name: str, phone: str) -> str:
            draft = service.TicketDraft(channel="phone", source_line="12345", citizen_name="回访市民",
                                        citizen_phone=phone, title=f"语音回访{name}", content=f"{name}：路灯不亮",
                                        appeal_type="complaint", topic="03-water", subplatform="469002")
            number = service.create(session, agent, draft, now=now - dt.timedelta(minutes=30)).ticket.number
            service.act(session, agent, desk.settings, number, "resolve_directly", {"answer": "已转告路灯管理所。"},
                        now=now - dt.timedelta(minutes=29))
            return number

        voice, keys = awaiting("V1", "13912340001"), awaiting("K1", "13912340002")
        plan = cp.Plan(name="语音回访测试", ticket_numbers=[voice, keys], max_channels=2, attempts=1,
                       window_start="00:00", window_end="23:59")
        boss_id = session.scalar(select(m.User.id).where(m.User.username == desk.users["boss"]))
        cp.create(session, plan, boss_id, POLICY, now)
    placed = {}
    for out_id, action in CampaignRunner(desk.db, POLICY, ami=lambda: None, redis=None,
                                         clock=lambda: at)._claim_due(True):
        number = next(x.split("=", 1)[1] for x in action["Variable"] if x.startswith("HOTLINE_REVISIT_TICKET="))
        placed[number] = out_id
    with desk.db.session() as session:
        revisit.apply_result(session, RevisitEntry(out_id=placed[voice], ticket=voice, result="unsatisfied",
                                                   solved="no", said=HEARD), POLICY, now)
        revisit.apply_result(session, RevisitEntry(out_id=placed[keys], ticket=keys, result="unsatisfied",
                                                   solved="yes", digits="13"), POLICY, now)

    for user in ("agent", "boss"):
        login(page, desk.users[user])
        expect(page.locator("#whoami")).to_be_visible()
        page.goto("/revisits.html")
        by_voice = page.locator(f"#revisit-list li[data-number='{voice}']")
        by_keys = page.locator(f"#revisit-list li[data-number='{keys}']")
        expect(by_voice).to_have_class("review")
        expect(by_voice).to_contain_text("不满意")
        expect(by_voice.locator(".review-said")).to_contain_text("语音回答：没解决 / 不满意，电话")
        expect(by_voice.locator(".review-said")).to_contain_text("打了好几次都没人管")
        expect(by_voice).not_to_contain_text("13912345678")
        expect(by_voice.locator(".review-keys")).to_have_count(0)
        expect(by_keys.locator(".review-keys")).to_have_text("按键：13")
        expect(by_keys.locator(".review-said")).to_have_count(0)
        assert_clean(page)
        logout(page)
