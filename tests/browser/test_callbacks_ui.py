"""未接来电回拨 on the agent's page in a real Chromium against the real desk: a caller who hung up twice before any
agent answered is one row of the worklist, number masked, with line, city, waits, what they said (numbers masked)
and a ticking clock against the target; without a phone system 回拨 is disabled and says why. No 5xx, no failed
request, no console error."""

from __future__ import annotations

import datetime as dt
import json

from playwright.sync_api import expect

from agent_desk.calls import events as ev
from hotline.contracts.prefill import KEY as PREFILL_KEY
from tests.browser.test_desk_ui import assert_clean, login, logout

CALLER = "13876540321"


def test_the_worklist_shows_one_masked_task_with_its_clock(page, desk, tracker, loop_thread, rclient, shoot):
    now = dt.datetime.now(dt.UTC)
    tag = desk.tag
    rclient.set(PREFILL_KEY.format(call_id=f"{tag}.cb1"), json.dumps(
        {"v": 1, "call_id": f"{tag}.cb1", "status": "final", "transcript": "家里停水了，回电13907551234"},
        ensure_ascii=False))

    async def two_missed_calls() -> None:
        for n, waited in ((1, 75), (2, 20)):
            facts = ev.CallFacts(call_id=f"{tag}.cb{n}", caller=CALLER, line="12345", line_class="main",
                                 subplatform="469002", queue="province", appeal_type="")
            start = now - dt.timedelta(minutes=10 - n)
            await tracker.apply(ev.ChannelCreated(facts.call_id, start))
            await tracker.apply(ev.QueueJoined(facts, f"PJSIP/carrier-{n:08d}", start + dt.timedelta(seconds=2)))
            await tracker.apply(ev.CallEnded(facts, "normal", start + dt.timedelta(seconds=waited)))

    loop_thread.run(two_missed_calls())
    login(page, desk.users["agent"])
    expect(page.locator("#ws-state")).to_have_text("已连接")
    card = page.locator("#callbacks-card")
    expect(card.get_by_role("heading", name="未接来电回拨")).to_be_visible()
    row = card.locator("#callbacks-table tbody tr[data-task]").filter(has_text="138****0321")
    expect(row).to_have_count(1)   # two missed calls, one task
    expect(row).to_contain_text("琼海")
    expect(row.locator("td").nth(2)).to_have_text("2")
    expect(row).to_contain_text("75 秒")
    expect(row).to_contain_text("待回拨")
    expect(card).not_to_contain_text(CALLER)
    said = card.locator(f"tr[data-said='{row.get_attribute('data-task')}']")
    expect(said).to_contain_text("家里停水了")
    expect(said).not_to_contain_text("13907551234")
    clock = row.locator("[data-clock]")
    expect(clock).to_contain_text("剩余")
    first = clock.inner_text()
    expect(clock).not_to_have_text(first, timeout=5000)   # it ticks
    button = row.get_by_role("button", name="回拨", exact=True)   # not 市民要求不再回拨
    expect(button).to_be_disabled()   # no phone system behind this desk
    expect(button).to_have_attribute("title", "电话系统未连接，暂不能回拨")
    shoot(page, "callbacks-worklist")
    assert_clean(page)
    logout(page)
