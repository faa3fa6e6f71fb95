"""A ticket's details in a real Chromium against the real desk (issue 19 leftovers): 所属市县 and the 区/镇 the agent
picked are shown by name, and a call transferred back to a sub-platform's queue says which queue in Chinese in the
办理记录 (转接目标：琼海市分平台), not the queue's code. Screenshots at 1440×900 and 1920×1080. No 5xx, failed request
or console error."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from agent_desk.db import models as m
from agent_desk.tickets import lifecycle as lc
from agent_desk.tickets.store import append_note
from tests.browser.test_desk_ui import assert_clean, login
from tests.browser.conftest import settle

SIZES = ((1440, 900), (1920, 1080))


@pytest.fixture(scope="module")
def transferred(desk) -> str:
    """(Once for the module's desk.) 琼海 and its town 博鳌镇 in the org tree; a ticket placed there whose call went
    back to 琼海's sub-platform queue (a transfer entry as the call tracker writes it), then to the province's."""
    with desk.db.session() as session:
        province = session.scalar(select(m.OrgUnit).where(m.OrgUnit.code == f"{desk.tag}-prov"))
        city = m.OrgUnit(code="469002", name="琼海市12345热线分平台", kind="subplatform", level="city",
                         parent_id=province.id, subplatform="469002")
        session.add(city)
        session.flush()
        town = m.OrgUnit(code="469002-博鳌镇", name="博鳌镇", kind="town", level="town", parent_id=city.id,
                         subplatform="469002")
        session.add(town)
        session.flush()
        now = dt.datetime.now(dt.UTC)
        row = m.Ticket(number="20261205900001", channel="phone", title="博鳌镇路灯不亮", content="路灯不亮三天。",
                       appeal_type="complaint", state="accepted", subplatform="469002", location_unit_id=town.id,
                       citizen_name="张三", citizen_phone="13900000001", created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        append_note(session, row, "transfer", now, desk.users["agent"], lc.Role.SYSTEM,
                    {"TransferID": "t1", "Kind": "queue", "Target": "sp-469002", "Outcome": "queued",
                     "Agent": desk.users["agent"]})
        return row.number


def test_details_name_the_city_the_town_and_the_queue_a_call_went_back_to(page, desk, transferred, shoot):
    login(page, desk.users["boss"])
    settle(page)
    page.goto(f"/search.html?number={transferred}")
    detail = page.locator("#ticket-detail")
    facts = detail.locator("dl.kv")
    expect(facts).to_be_visible()
    fact = {dt_.inner_text(): dt_.locator("xpath=following-sibling::dd[1]").inner_text()
            for dt_ in facts.locator("dt").all()}
    assert fact["所属市县"] == "琼海市" and fact["所在区镇"] == "博鳌镇", fact
    row = detail.locator("table.history tr[data-action=transfer]")
    expect(row).to_contain_text("转接类型：转回队列；转接目标：琼海市分平台；结果：已进入队列")
    text = detail.inner_text()
    assert "sp-469002" not in text and "469002" not in text, text   # no code, bracketed or not
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        shoot(page, f"details-{width}x{height}")
    assert_clean(page)
