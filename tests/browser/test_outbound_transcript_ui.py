"""The agent page during the agent's own 回拨, in a real Chromium against the real desk (uvicorn), database and
Redis: the turns the listening legs write under the call's out_id (tests/support/transcripts.py writes them as the
media server does) go through the desk's transcript relay to the page of the agent who placed the call, which
shows them labelled by speaker, as on an inbound call, and asks 智能建议 about what the citizen says; an inbound
call's pop afterwards takes the page over. No 5xx, failed request or console error."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect

from agent_desk.calls import events as ev
from agent_desk.calls import pop
from agent_desk.db import models as m
from hotline.contracts.transcript import Turn
from tests.browser.conftest import answer_call
from tests.browser.test_desk_ui import agent_ready, assert_clean, reload, wait_subscribed
from tests.support import transcripts

CITIZEN = "金海岸小区停水两天了，自来水一直没来，水压也很低"


def test_the_agent_follows_their_callback_live_with_suggestions(page, desk, rclient, desk_side, loop_thread, shoot):
    _tracker, relay = desk_side
    out_id = f"cb-{desk.tag}00000000000001"
    now = dt.datetime.now(dt.UTC)
    with desk.db.session() as session:   # the dialer's row: the agent placed it, the citizen answered
        session.add(m.CallbackCall(out_id=out_id, agent_user_id=desk.user_ids["agent"], agent_extension=desk.extension,
                                   started_at=now, agent_answered_at=now, citizen_answered_at=now,
                                   status="connected"))
    agent_ready(page, desk, rclient)
    # the 回拨 is in progress as the page loads (GET /calls/current): its transcript panel is there, empty so far
    expect(page.locator("#live-card")).to_be_visible()
    expect(page.locator("#page-msg")).to_contain_text("回拨进行中")
    expect(page.locator("#turns li")).to_have_count(0)

    said = [Turn(call_id=out_id, speaker="agent", seq=0, text="您好，这里是12345热线，给您回个电话", start=0.5,
                 end=3.0),
            Turn(call_id=out_id, speaker="citizen", seq=0, text=CITIZEN, start=4.0, end=9.0)]
    for one in said:
        transcripts.append(rclient, one)
    turns = page.locator("#turns li")
    expect(page.locator("#live-card")).to_be_visible()
    expect(turns).to_have_count(2)
    expect(turns.nth(0)).to_contain_text("坐席")
    expect(turns.nth(0)).to_contain_text("给您回个电话")
    expect(turns.nth(1)).to_contain_text("市民")
    expect(turns.nth(1)).to_contain_text(CITIZEN)
    expect(page.locator("#page-msg")).to_contain_text("回拨进行中：下方为实时转写")   # known since the page loaded
    # 智能建议 from the citizen's words, as on an inbound call (the keyword rule for 停水 → 供水排水)
    first_topic = page.locator("#smart-card [data-list='topics'] li[data-rank='1']")
    expect(first_topic).to_have_attribute("data-code", "03-water")
    shoot(page, "callback-live")

    # a reload mid-call: the 回拨 and what was said are back at once (GET /calls/current), then its next turn
    reload(page)
    expect(turns).to_have_count(2)
    expect(page.locator("#ws-state")).to_have_text("已连接")
    wait_subscribed(rclient, pop.channel_for(desk.user_ids["agent"]))
    transcripts.append(rclient, Turn(call_id=out_id, speaker="agent", seq=1, text="好的，我为您登记", start=10.0,
                                     end=12.0))
    expect(turns).to_have_count(3)
    expect(turns.nth(2)).to_contain_text("好的，我为您登记")

    # an inbound call answered afterwards takes the page over: its own transcript, not the 回拨's
    facts = ev.CallFacts(call_id=f"{desk.tag}.after-callback", caller="13876543210", line="12345",
                         line_class="main", subplatform="469002", queue="hotline-469002", appeal_type="complaint")
    answer_call(loop_thread, _tracker, desk, facts, dt.datetime.now(dt.UTC))
    expect(page.locator("#call-caller")).to_have_text("13876543210")
    expect(turns).to_have_count(0)
    transcripts.append(rclient, Turn(call_id=out_id, speaker="citizen", seq=1, text="还有一件事", start=14.0, end=15.0))
    transcripts.append(rclient, Turn(call_id=facts.call_id, speaker="citizen", seq=0, text="你好", start=1.0, end=2.0))
    expect(turns).to_have_count(1)
    expect(turns.nth(0)).to_contain_text("你好")
    assert relay.turns_refused == 0
    assert_clean(page)
