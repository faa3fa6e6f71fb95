"""The agent's ticket form in a real Chromium against the real desk: 市县 → 区 → 镇 pickers pre-selected from a pop's
prefill, Enter in a one-line field saving nothing (only 保存工单 saves), a hand-typed 海口 ticket getting 海口's unit
suggested (not the province's), 业务分类 searchable by its Chinese name with the suggestion's top-1 pre-selected
until the agent picks, 拟派承办单位 offered by name, and a saved ticket edited, its history saying so. Screenshots
at 1440×900 and 1920×1080 go to tests/artifacts/browser/. No 5xx, failed request or console error."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from agent_desk.calls import events as ev
from agent_desk.db import models as m
from hotline.contracts.prefill import KEY as PREFILL_KEY
from tests.browser.test_desk_ui import agent_ready, assert_clean, login
from tests.browser.test_live_transcript_ui import prefill_of
from tests.browser.conftest import answer_call

SIZES = {"1440": {"width": 1440, "height": 900}, "1920": {"width": 1920, "height": 1080}}


@pytest.fixture(scope="module")
def places(desk):
    """(Once for the module's desk.) 琼海 and 海口 in the org tree, with a few districts and towns; water in 海口
    goes to 海口市水务局, anywhere without a city rule to 海南省水务厅 (the fixture's own rule sends 琼海's to
    琼海市水务局)."""
    with desk.db.session() as session:
        province = session.scalar(select(m.OrgUnit).where(m.OrgUnit.code == f"{desk.tag}-prov"))
        ids = {}
        for code, name in (("469002", "琼海市"), ("460100", "海口市")):
            city = m.OrgUnit(code=code, name=name, kind="subplatform", level="city", parent_id=province.id,
                             subplatform=code)
            session.add(city)
            session.flush()
            ids[code] = city.id
        session.add_all([
            m.OrgUnit(code="460100-龙华区", name="龙华区", kind="district", level="county", parent_id=ids["460100"],
                      subplatform="460100"),
            m.OrgUnit(code="460100-美兰区", name="美兰区", kind="district", level="county", parent_id=ids["460100"],
                      subplatform="460100"),
            m.OrgUnit(code="460100-长流镇", name="长流镇", kind="town", level="town", parent_id=ids["460100"],
                      subplatform="460100"),
            m.OrgUnit(code="469002-嘉积镇", name="嘉积镇", kind="town", level="town", parent_id=ids["469002"],
                      subplatform="469002"),
            m.OrgUnit(code="469002-博鳌镇", name="博鳌镇", kind="town", level="town", parent_id=ids["469002"],
                      subplatform="469002"),
        ])
        haikou_water = m.OrgUnit(code=f"{desk.tag}-hkwater", name="海口市水务局", kind="member_unit", level="city",
                                 parent_id=ids["460100"], subplatform="460100")
        province_water = m.OrgUnit(code=f"{desk.tag}-hnwater", name="海南省水务厅", kind="member_unit",
                                   level="province", parent_id=province.id)
        session.add_all([haikou_water, province_water])
        session.flush()
        session.add_all([
            m.DispatchRule(kind="catalogue", topic="03-water", keywords=[], subplatform=None,
                           unit_id=province_water.id, basis="全省供水"),
            m.DispatchRule(kind="catalogue", topic="03-water", keywords=[], subplatform="460100",
                           unit_id=haikou_water.id, basis="海口城区供水"),
        ])
    return desk


def ticket_row(desk, number: str) -> m.Ticket:
    with desk.db.session() as session:
        row = session.scalar(select(m.Ticket).where(m.Ticket.number == number))
        assert row is not None
        session.expunge(row)
        return row


def unit_code(desk, unit_id: int | None) -> str | None:
    with desk.db.session() as session:
        return session.scalar(select(m.OrgUnit.code).where(m.OrgUnit.id == unit_id))


def count_tickets(desk) -> int:
    with desk.db.session() as session:
        return len(session.scalars(select(m.Ticket.id)).all())


def test_a_pop_preselects_the_place_and_only_the_save_button_saves(page, places, rclient,  # noqa: F811
                                                                   tracker, loop_thread, shoot):
    desk = places
    page.set_viewport_size(SIZES["1440"])
    agent_ready(page, desk, rclient)
    expect(page.locator("#place-city option[value='460100']")).to_have_text("海口市")   # the pickers are loaded

    call_id = f"{desk.tag}.form"
    said = "我要投诉，嘉积镇金海岸小区的自来水发黄，好几天了"
    rclient.set(PREFILL_KEY.format(call_id=call_id), json.dumps(prefill_of(call_id, said, "final")))
    facts = ev.CallFacts(call_id=call_id, caller="13876543210", line="12345", line_class="main",
                         subplatform="469002", queue="hotline-469002", appeal_type="complaint")
    now = dt.datetime.now(dt.UTC)

    answer_call(loop_thread, tracker, desk, facts, now)
    expect(page.locator("#call-caller")).to_have_text("13876543210")
    # the prefill named 嘉积镇 (琼海): 市县 and 镇 are chosen, the 区 picker lists none for 琼海
    expect(page.get_by_label("所属市县")).to_have_value("469002")
    expect(page.get_by_label("乡镇")).to_have_value("469002-嘉积镇")
    expect(page.locator("#place-town option")).to_have_text(["请选择", "博鳌镇", "嘉积镇"])   # pinyin order
    expect(page.locator("#place-district option")).to_have_text(["（无）"])
    expect(page.get_by_label("诉求内容（必填）")).to_have_value(said)
    shoot(page, "pop-places-1440")

    # Enter in one-line fields never saves (市民诉求 is still empty; the agent is mid-way)
    before = count_tickets(desk)
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" and r.url.endswith("/api/v1/tickets")
            else None)
    for label in ("标题（必填）", "市民姓名", "联系电话", "发生时间", "地点"):
        page.get_by_label(label, exact=True).press("Enter")
    page.get_by_label("按名称查找分类").press("Enter")
    page.wait_for_timeout(500)   # a save would have been sent at once: give it the chance to show
    assert posted == [] and count_tickets(desk) == before
    expect(page.locator("#form-msg")).to_have_text("")

    # the agent picks another town: that is the agent's, a later prefill leaves it alone
    page.get_by_label("乡镇").select_option(label="博鳌镇")
    page.get_by_label("市民诉求").fill("请尽快检查水质")
    page.set_viewport_size(SIZES["1920"])
    shoot(page, "before-save-1920")
    page.get_by_role("button", name="保存工单").click()
    expect(page.locator("#form-msg")).to_contain_text("工单已保存")
    number = page.locator("#form-msg").inner_text().split("编号 ")[1][:14]
    row = ticket_row(desk, number)
    assert row.subplatform == "469002" and unit_code(desk, row.location_unit_id) == "469002-博鳌镇"
    assert row.demand == "请尽快检查水质"
    assert count_tickets(desk) == before + 1
    assert_clean(page)

    async def hang_up():   # the next test types a ticket with no call on
        ended = dt.datetime.now(dt.UTC)
        await tracker.apply(ev.AgentFinished(call_id, desk.extension, 30, "caller", ended))
        await tracker.apply(ev.CallEnded(facts, "normal", ended))

    loop_thread.run(hang_up())


def test_a_typed_haikou_ticket_gets_haikous_unit_and_can_be_edited(page, places, shoot):
    desk = places
    page.set_viewport_size(SIZES["1920"])
    asked: dict[str, list[dict]] = {"/api/v1/tickets/duplicates": [], "/api/v1/suggestions": []}

    def record(request):
        for path, bodies in asked.items():
            if request.method == "POST" and request.url == desk.url + path:
                bodies.append(request.post_data_json)

    page.on("request", record)
    login(page, desk.users["agent"])
    expect(page).to_have_url(desk.url + "/agent.html")
    expect(page.locator("#place-city option[value='460100']")).to_have_text("海口市")
    expect(page.locator("#no-call")).to_be_visible()   # no call: the agent types the ticket
    expect(page.get_by_label("所属市县")).to_have_value("")
    page.get_by_label("所属市县").select_option(label="海口市")
    expect(page.locator("#place-district option")).to_have_text(["请选择", "龙华区", "美兰区"])   # pinyin order
    page.get_by_label("区", exact=True).select_option(label="龙华区")

    # the form's own limits, shown as the agent types
    page.get_by_label("标题（必填）").fill("停" * 129)   # kept as typed, never cut (tests/browser/test_forms_ui.py)
    expect(page.locator("#title-count")).to_have_text("129/128 字，超出 1 字")
    page.get_by_label("标题（必填）").fill("小区停水")
    expect(page.locator("#title-count")).to_have_text("4/128 字")
    page.get_by_label("诉求内容（必填）").fill("龙华区金盘小区停水两天了，自来水一直没来，水压也很低。")
    expect(page.locator("#content-count")).to_have_text("27/20000 字")
    # the panels are asked with the chosen place
    expect(page.locator("#duplicates-panel")).to_be_visible()
    assert asked["/api/v1/tickets/duplicates"][-1]["subplatform"] == "460100"
    assert asked["/api/v1/tickets/duplicates"][-1]["location_unit"] == "460100-龙华区"
    card = page.locator("#smart-card")
    first_unit = card.locator("[data-list='units'] li[data-rank='1']")
    expect(first_unit).to_contain_text("海口市水务局")
    expect(card.locator("[data-list='units']")).not_to_contain_text("海南省水务厅")
    question = asked["/api/v1/suggestions"][-1]
    assert question["subplatform"] == "460100" and question["county"] == "460100-龙华区" and question["town"] is None
    # 业务分类: the suggestion's top-1 is pre-selected (the agent has not picked one)
    topic = page.get_by_label("业务分类")
    expect(topic).to_have_value("03-water")
    expect(page.locator("#topic-hint")).to_contain_text("已按建议预选：供水排水")
    shoot(page, "haikou-suggested-1920")

    # searchable by Chinese name; the agent's pick then stays whatever the suggestions say
    page.get_by_label("按名称查找分类").fill("住房")
    expect(topic).to_have_value("03-housing")
    expect(page.locator("#topic option:not([hidden])")).to_have_text(["未分类", "住房物业"])
    page.get_by_label("按名称查找分类").fill("供水")
    expect(topic).to_have_value("03-water")
    page.get_by_label("按名称查找分类").fill("")
    topic.select_option(label="住房物业")
    page.get_by_label("诉求内容（必填）").fill("龙华区金盘小区停水两天了，自来水一直没来，物业也不管。")
    expect(card.locator("[data-list='units'] li[data-rank='1']")).to_be_visible()
    page.wait_for_timeout(900)   # the panel asks again after its debounce: the agent's pick must survive it
    expect(topic).to_have_value("03-housing")
    topic.select_option(label="供水排水")

    # 拟派承办单位 offered by name
    page.get_by_label("拟派承办单位").fill("海口")
    expect(page.locator("#unit-names option[value='海口市水务局']")).to_have_count(1)
    page.get_by_label("拟派承办单位").fill("海口市水务局")

    page.get_by_label("诉求类型（必填）").select_option("complaint")
    page.get_by_role("button", name="保存工单").click()
    expect(page.locator("#form-msg")).to_contain_text("工单已保存")
    number = page.locator("#form-msg").inner_text().split("编号 ")[1][:14]
    row = ticket_row(desk, number)
    assert row.subplatform == "460100" and unit_code(desk, row.location_unit_id) == "460100-龙华区"
    assert row.topic == "03-water"
    # its dispatch suggestion uses its city
    detail = page.locator("#ticket-detail")
    detail.get_by_role("button", name="派单").click()
    expect(detail.locator(".suggestions li").first).to_contain_text("海口市水务局")
    expect(detail.locator(".suggestions")).not_to_contain_text("海南省水务厅")
    detail.get_by_role("button", name="取消").click()
    expect(page.get_by_role("button", name="保存工单")).to_be_disabled()
    shoot(page, "saved-1920")

    # ── 修改工单: the title and the town change; the history says who and which fields ──
    page.get_by_role("button", name="修改工单").click()
    expect(page.get_by_role("button", name="保存修改")).to_be_enabled()
    expect(page.get_by_label("诉求类型（必填）")).to_be_disabled()
    page.get_by_label("标题（必填）").fill("金盘小区停水两天")
    page.get_by_label("标题（必填）").press("Enter")   # still no save on Enter
    page.wait_for_timeout(300)
    assert ticket_row(desk, number).title == "小区停水"
    page.get_by_label("乡镇").select_option(label="长流镇")
    page.get_by_role("button", name="保存修改").click()
    expect(page.locator("#form-msg")).to_have_text(f"工单 {number} 已修改")
    edit_row = detail.locator("tr[data-action='edit']")
    expect(edit_row).to_contain_text("修改工单")
    expect(edit_row).to_contain_text("修改内容：标题、地点（区、镇）")
    expect(edit_row).to_contain_text("测试agent")   # the agent's name (display_name), not its login name
    row = ticket_row(desk, number)
    assert row.title == "金盘小区停水两天" and unit_code(desk, row.location_unit_id) == "460100-长流镇"
    expect(page.get_by_role("button", name="修改工单")).to_be_visible()
    page.set_viewport_size(SIZES["1440"])
    shoot(page, "edited-1440")

    # after 派单 the ticket is the unit's: the form no longer offers the edit
    detail.get_by_role("button", name="派单").click()
    detail.locator("[data-unit-picker='host_unit']").fill(desk.units["water"])
    detail.get_by_role("button", name="确认派单").click()
    expect(detail).to_have_attribute("data-state", "dispatched")
    expect(page.get_by_role("button", name="修改工单")).to_be_hidden()
    assert_clean(page)
