"""市民要求不再回拨 on the agent's callback worklist, in a real Chromium against the real desk: the row's button asks
for a reason (refused empty, nothing sent), then closes the task; it leaves the worklist, the refusal is in the
opt-out store, and the caller's next missed call makes no row. No 5xx, no failed request, no console error."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect
from sqlalchemy import select

from agent_desk.calls import events as ev
from agent_desk.db import models as m
from tests.browser.test_desk_ui import assert_clean, login, logout, reload

CALLER = "13876540777"
REASON = "市民说问题已经解决，不要再打来"


def test_the_agent_marks_a_task_as_refused_and_later_missed_calls_make_no_row(page, desk, tracker, loop_thread,
                                                                                shoot):
    tag = desk.tag
    now = dt.datetime.now(dt.UTC)

    async def missed_call(n: int) -> None:
        facts = ev.CallFacts(call_id=f"{tag}.oo{n}", caller=CALLER, line="12345", line_class="main",
                             subplatform="469002", queue="province", appeal_type="")
        start = now - dt.timedelta(minutes=10 - n)
        await tracker.apply(ev.ChannelCreated(facts.call_id, start))
        await tracker.apply(ev.QueueJoined(facts, f"PJSIP/carrier-{n:08d}", start + dt.timedelta(seconds=2)))
        await tracker.apply(ev.CallEnded(facts, "normal", start + dt.timedelta(seconds=30)))

    loop_thread.run(missed_call(1))
    login(page, desk.users["agent"])
    card = page.locator("#callbacks-card")
    row = card.locator("#callbacks-table tbody tr[data-task]").filter(has_text="138****0777")
    expect(row).to_have_count(1)
    row.get_by_role("button", name="市民要求不再回拨").click()
    form = card.locator("#callback-opt-out")
    expect(form).to_be_visible()
    expect(form).to_contain_text("138****0777")
    expect(form).not_to_contain_text(CALLER)
    form.get_by_role("button", name="确认登记").click()           # no reason: refused here, nothing sent
    expect(card.locator("#callbacks-msg")).to_have_text("请填写原因")
    expect(row).to_have_count(1)
    form.get_by_role("textbox", name="原因（市民原话或说明，必填）").fill(REASON)
    shoot(page, "callback-opt-out-form")
    form.get_by_role("button", name="确认登记").click()
    expect(card.locator("#callbacks-msg")).to_contain_text("市民要求不再回拨")
    expect(form).to_be_hidden()
    expect(row).to_have_count(0)

    with desk.db.session() as session:
        [task] = session.scalars(select(m.CallbackTask).where(m.CallbackTask.caller == CALLER)).all()
        assert (task.state, task.outcome) == ("closed", "opted_out")
        [refusal] = session.scalars(select(m.RevisitOptOut).where(m.RevisitOptOut.caller == CALLER)).all()
        assert (refusal.source, refusal.reason) == ("callback", REASON)

    loop_thread.run(missed_call(2))   # the citizen rings again and hangs up: no new row
    reload(page)
    expect(card.locator("#callbacks-table")).to_be_attached()
    expect(card.locator("#callbacks-empty")).to_be_visible()
    expect(card).not_to_contain_text("138****0777")
    with desk.db.session() as session:
        assert len(session.scalars(select(m.CallbackTask).where(m.CallbackTask.caller == CALLER)).all()) == 1
    assert_clean(page)
    logout(page)
