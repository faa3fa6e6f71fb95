"""The agent's page says so when the call on the line is not being recorded (issue 17): the listener's warning,
pushed after the pop, shows as an alert on the 坐席工作台 while the call is up, and again after the page is
reloaded (the warning is on the call's record, which ``GET /calls/current`` returns). A recording interrupted during
the call (the listener's recordings watch) shows 录音中断 the same way."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect

from agent_desk.calls import events as ev
from agent_desk.calls import pop
from tests.browser.conftest import answer_call
from tests.browser.test_desk_ui import agent_ready, assert_clean


def test_a_call_whose_recording_cannot_be_written_warns_the_agent_on_the_page(page, desk, rclient, tracker,
                                                                              loop_thread):
    agent_ready(page, desk, rclient)

    call_id = f"{desk.tag}.norec"
    facts = ev.CallFacts(call_id=call_id, caller="13876543219", line="12345", line_class="main",
                         subplatform="", queue="province", appeal_type="")
    now = dt.datetime.now(dt.UTC)
    # The dialplan's HotlineRecordingFailed comes before the AgentConnect event (the listener's code path).
    loop_thread.run(tracker.apply(ev.RecordingFailed(call_id, now - dt.timedelta(seconds=5))))
    answer_call(loop_thread, tracker, desk, facts, now)
    expect(page.locator("#call-caller")).to_have_text("13876543219")
    alert = page.locator("#page-msg")
    expect(alert).to_have_text(pop.WARNINGS["recording_failed"])
    expect(alert).to_have_attribute("role", "alert")
    page.reload()   # the page loses what was pushed; the call and its warning come back from the desk
    expect(page.locator("#call-caller")).to_have_text("13876543219")
    expect(alert).to_have_text(pop.WARNINGS["recording_failed"])
    expect(alert).to_have_attribute("role", "alert")
    assert_clean(page)


def test_a_recording_interrupted_mid_call_warns_the_agent_before_and_after_a_reload(page, desk, rclient, tracker,
                                                                                   loop_thread):
    agent_ready(page, desk, rclient)
    call_id = f"{desk.tag}.cut"
    facts = ev.CallFacts(call_id=call_id, caller="13876543218", line="12345", line_class="main",
                         subplatform="", queue="province", appeal_type="")
    now = dt.datetime.now(dt.UTC)
    answer_call(loop_thread, tracker, desk, facts, now, first=11)
    expect(page.locator("#call-caller")).to_have_text("13876543218")
    alert = page.locator("#page-msg")
    expect(alert).not_to_have_text(pop.WARNINGS["recording_interrupted"])
    loop_thread.run(tracker.apply(ev.RecordingInterrupted(call_id, now + dt.timedelta(seconds=30))))
    expect(alert).to_have_text(pop.WARNINGS["recording_interrupted"])
    page.reload()
    expect(page.locator("#call-caller")).to_have_text("13876543218")
    expect(alert).to_have_text(pop.WARNINGS["recording_interrupted"])
    expect(alert).to_have_attribute("role", "alert")
    assert_clean(page)
