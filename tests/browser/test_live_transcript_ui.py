"""The agent page's live transcript and one-click suggestions, in a real Chromium against the real desk (uvicorn),
database and Redis. Turns are written to Redis exactly as the IVR side's media server writes them
(tests/support/transcripts.py); the desk's transcript relay and call tracker run as the listener runs them.

The agent sees the queue's description and each turn labelled by speaker, a shed turn as a note; clicking 采用 fills
the form field; a field the agent typed into or chose is not overwritten by a later prefill update.
"""

from __future__ import annotations

import datetime as dt
import json

from playwright.sync_api import expect

from agent_desk.calls import events as ev
from hotline.contracts.prefill import KEY as PREFILL_KEY
from hotline.contracts.prefill import Prefill as PrefillPayload
from hotline.contracts.transcript import Turn
from ivr.prefill import Prefill, enrich
from tests.browser.test_desk_ui import agent_ready, assert_clean, reload
from tests.support import transcripts
from tests.browser.conftest import answer_call

CALLER = "13876543210"
MENTIONED = "13911112222"
QUEUED = "我要投诉，嘉积镇金海岸小区的自来水发黄"
FIRST = "我要投诉，嘉积镇金海岸小区的自来水发黄"
FULL = f"我要投诉，嘉积镇金海岸小区的自来水从6月1日起发黄，烧开后有沉淀。我的另一个电话{MENTIONED}。"


def prefill_of(call_id: str, transcript: str, status: str) -> dict:
    draft = Prefill(call_id=call_id, line="12345", caller=CALLER, menu_choice="2", subplatform="469002",
                    status=status, engine="whisper")
    return enrich(draft, transcript, today=dt.date(2024, 6, 5)).to_dict()


def test_the_agent_follows_the_call_live_and_adopts_suggestions_in_one_click(page, desk, rclient, desk_side,
                                                                            loop_thread, shoot):
    tracker, relay = desk_side
    agent_ready(page, desk, rclient)

    # ── in the queue the citizen describes the matter; then the agent answers ──
    call_id = f"{desk.tag}.live"
    transcripts.append(rclient, Turn(call_id=call_id, speaker="citizen", seq=0, phase="waiting", text=QUEUED,
                                     start=1.0, end=4.0, engine="whisper"))
    rclient.set(PREFILL_KEY.format(call_id=call_id), json.dumps(prefill_of(call_id, FIRST, "transcribing")))
    facts = ev.CallFacts(call_id=call_id, caller=CALLER, line="12345", line_class="main", subplatform="469002",
                         queue="hotline-469002", appeal_type="complaint")
    now = dt.datetime.now(dt.UTC)

    answer_call(loop_thread, tracker, desk, facts, now)
    expect(page.locator("#call-caller")).to_have_text(CALLER)
    turns = page.locator("#turns li")
    queued = page.locator("#turns li[data-speaker='citizen'][data-seq='0']")
    expect(queued).to_contain_text("市民")
    expect(queued).to_contain_text("排队时所述")
    expect(queued).to_contain_text(QUEUED)

    # ── the conversation: each side's turns appear as they are transcribed, labelled by speaker ──
    said = [Turn(call_id=call_id, speaker="agent", seq=0, text="您好，12345热线，请讲", start=20.0, end=22.0),
            Turn(call_id=call_id, speaker="citizen", seq=1, text=f"水发黄好几天了，我另一个电话{MENTIONED}", start=23.0,
                 end=27.0),
            Turn(call_id=call_id, speaker="citizen", seq=2, status="shed", start=28.0, end=30.0),
            Turn(call_id=call_id, speaker="agent", seq=1, text="好的，我为您登记", start=31.0, end=33.0)]
    for one in said:
        transcripts.append(rclient, one)
    expect(turns).to_have_count(5)
    expect(turns.nth(1)).to_contain_text("坐席")
    expect(turns.nth(1)).to_contain_text("您好，12345热线，请讲")
    expect(turns.nth(1)).not_to_contain_text("排队时所述")
    expect(turns.nth(2)).to_contain_text("市民")
    expect(turns.nth(2)).to_contain_text(MENTIONED)
    expect(turns.nth(3)).to_contain_text("转写繁忙，此段未转写")
    expect(turns.nth(4)).to_contain_text("好的，我为您登记")
    expect(page.locator("#transcript-busy")).to_be_visible()
    shoot(page, "live-turns")

    # ── the agent types a field and chooses another before the prefill moves on ──
    location = page.get_by_label("地点", exact=True)
    location.fill("金海岸小区3栋")
    page.get_by_label("诉求类型（必填）").select_option("help")
    full = prefill_of(call_id, FULL, "final")
    rclient.set(PREFILL_KEY.format(call_id=call_id), json.dumps(full))
    loop_thread.run(tracker.prefill_changed(PrefillPayload.decode(json.dumps(full))))
    expect(page.locator("#prefill-status")).to_have_text("转写完成")
    expect(page.get_by_label("诉求内容（必填）")).to_have_value(FULL)   # untouched by the agent: it follows
    expect(location).to_have_value("金海岸小区3栋")                   # typed: kept
    expect(page.get_by_label("诉求类型（必填）")).to_have_value("help")  # chosen: kept
    expect(page.get_by_label("发生时间")).to_have_value("2024-06-01")

    # ── one click each: the suggestion fills its field ──
    page.get_by_role("button", name=f"采用提及电话：{MENTIONED}").click()
    expect(page.get_by_label("联系电话")).to_have_value(MENTIONED)
    page.get_by_role("button", name="采用涉及地点：嘉积镇").click()
    expect(location).to_have_value("金海岸小区3栋、嘉积镇")            # added to what the agent wrote
    page.get_by_role("button", name="采用诉求类型：投诉举报").click()
    expect(page.get_by_label("诉求类型（必填）")).to_have_value("complaint")
    page.get_by_label("业务分类").select_option("")
    page.get_by_role("button", name="采用建议分类：供水排水").click()
    expect(page.get_by_label("业务分类")).to_have_value("03-water")
    expect(page.locator("#adopt-msg")).to_contain_text("已采用建议分类“供水排水”")
    page.get_by_label("拟派承办单位").fill("")
    page.get_by_role("button", name="采用建议承办单位：琼海市水务局").click()
    expect(page.get_by_label("拟派承办单位")).to_have_value("琼海市水务局")
    shoot(page, "adopted")

    # ── the prefill moves on again: nothing the agent filled or adopted changes ──
    more = FULL + "另外小区门口路灯也不亮。"
    later = prefill_of(call_id, more, "final")
    loop_thread.run(tracker.prefill_changed(PrefillPayload.decode(json.dumps(later))))
    expect(page.locator("#transcript")).to_contain_text("路灯也不亮")
    expect(page.get_by_label("联系电话")).to_have_value(MENTIONED)
    expect(location).to_have_value("金海岸小区3栋、嘉积镇")
    expect(page.get_by_label("诉求类型（必填）")).to_have_value("complaint")
    expect(page.get_by_label("诉求内容（必填）")).to_have_value(more)

    # ── a reload mid-call: the whole transcript comes back, nothing shown twice ──
    reload(page)
    expect(page.locator("#call-caller")).to_have_text(CALLER)
    expect(turns).to_have_count(5)
    transcripts.append(rclient, Turn(call_id=call_id, speaker="citizen", seq=3, text="谢谢", start=40.0, end=41.0))
    expect(turns).to_have_count(6)
    expect(turns.nth(5)).to_contain_text("谢谢")
    assert relay.turns_refused == 0
    shoot(page, "reloaded")
    assert_clean(page)
