"""The agent page reloaded in the middle of the agent's own 回拨, in a real Chromium against the real desk (uvicorn),
database and Redis: the page asks ``GET /api/v1/calls/current`` on load, which answers the 回拨 in progress with
its turns so far, so the live transcript (and 智能建议 from what the citizen said) is back at once, before anyone
says anything more, with the number masked and the task it is for; the next turn then arrives live as before.
No 5xx, failed request or console error."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect

from agent_desk.calls import pop
from agent_desk.db import models as m
from hotline.contracts.transcript import Turn
from tests.browser.test_desk_ui import assert_clean, login, reload, wait_subscribed
from tests.support import transcripts

CITIZEN = "金海岸小区停水两天了，自来水一直没来，水压也很低"
NUMBER = "13876540001"


def test_a_reload_mid_callback_shows_its_turns_at_once(page, desk, rclient, desk_side, shoot):
    _tracker, relay = desk_side
    out_id = f"cb-{desk.tag}00000000000002"
    now = dt.datetime.now(dt.UTC)
    with desk.db.session() as session:   # the dialer's rows: a task's 回拨 the agent placed, the citizen answered
        task = m.CallbackTask(caller=NUMBER, open_caller=None, line="12345", subplatform="469002", state="dialing",
                              first_call_id=f"{out_id}.missed", last_call_id=f"{out_id}.missed", first_missed_at=now,
                              last_missed_at=now)
        session.add(task)
        session.flush()
        task_id = task.id
        session.add(m.CallbackCall(out_id=out_id, task_id=task_id, agent_user_id=desk.user_ids["agent"],
                                   agent_extension=desk.extension, started_at=now, agent_answered_at=now,
                                   citizen_answered_at=now, status="connected"))
    # said before the page was there: one turn the relay stored, one only in the call's stream
    transcripts.append(rclient, Turn(call_id=out_id, speaker="agent", seq=0, text="您好，这里是12345热线，给您回个电话",
                                     start=0.5, end=3.0))
    transcripts.append(rclient, Turn(call_id=out_id, speaker="citizen", seq=0, text=CITIZEN, start=4.0, end=9.0),
                       publish=False)

    login(page, desk.users["agent"])
    expect(page).to_have_url(desk.url + "/agent.html")
    turns = page.locator("#turns li")
    for attempt in ("first load", "reload"):
        expect(page.locator("#live-card")).to_be_visible()
        expect(turns).to_have_count(2)
        expect(turns.nth(0)).to_contain_text("给您回个电话")
        expect(turns.nth(1)).to_contain_text("市民")
        expect(turns.nth(1)).to_contain_text(CITIZEN)
        message = page.locator("#page-msg")
        expect(message).to_contain_text("回拨进行中")
        expect(message).to_contain_text(f"回拨任务 #{task_id}")
        expect(message).to_contain_text(NUMBER[-4:])
        expect(message).not_to_contain_text(NUMBER)
        # 智能建议 from the restored citizen turn (the keyword rule for 停水 → 供水排水)
        first_topic = page.locator("#smart-card [data-list='topics'] li[data-rank='1']")
        expect(first_topic).to_have_attribute("data-code", "03-water")
        shoot(page, f"callback-{attempt.replace(' ', '-')}")
        if attempt == "first load":
            reload(page)

    # the conversation goes on: the next turn arrives live on the reloaded page, after the restored ones
    expect(page.locator("#ws-state")).to_have_text("已连接")
    wait_subscribed(rclient, pop.channel_for(desk.user_ids["agent"]))
    transcripts.append(rclient, Turn(call_id=out_id, speaker="agent", seq=1, text="好的，我为您登记", start=10.0,
                                     end=12.0))
    expect(turns).to_have_count(3)
    expect(turns.nth(2)).to_contain_text("好的，我为您登记")
    assert relay.turns_refused == 0
    with desk.db.session() as session:   # every restore was audited against the call
        reads = session.query(m.AuditEntry).filter(m.AuditEntry.object_id == out_id,
                                                   m.AuditEntry.reason == "own_callback").count()
    assert reads >= 2
    with desk.db.session() as session:   # ended: the next module's pages start idle
        row = session.query(m.CallbackCall).filter(m.CallbackCall.out_id == out_id).one()
        row.ended_at, row.status = dt.datetime.now(dt.UTC), "ended"
    assert_clean(page)
