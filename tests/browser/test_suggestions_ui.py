"""智能建议 on the agent page in a real Chromium against the real desk: a typed description brings the top topics
and units with the rule marked, a click applies one to the form, and saving records that the first suggestion
was accepted. Screenshots go to tests/artifacts/browser/. No 5xx, failed request or console error."""

from __future__ import annotations

import time

from playwright.sync_api import expect
from sqlalchemy import select

from agent_desk.db import models as m
from agent_desk.suggestions.models import SuggestionOutcome
from tests.browser.conftest import answer_call, settle
from tests.browser.test_desk_ui import agent_ready, assert_clean, login
from tests.browser.test_live_transcript_ui import prefill_of
from tests.browser.test_supervisor_views import sign_in


def test_typed_description_suggests_a_click_applies_and_saving_records_it(page, desk, shoot):
    with desk.db.session() as session:
        # a province-wide 派单目录 entry, so a form without a call (no sub-platform) still has a unit rule
        housing = session.scalar(select(m.OrgUnit.id).where(m.OrgUnit.code == desk.units["housing"]))
        session.add(m.DispatchRule(kind="catalogue", topic="03-water", keywords=[], subplatform=None, unit_id=housing,
                                   basis="测试：全省供水事项"))

    login(page, desk.users["agent"])
    expect(page).to_have_url(desk.url + "/agent.html")
    card = page.locator("#smart-card")
    expect(card.get_by_role("heading", name="智能建议")).to_be_visible()
    expect(card.locator("[data-list='topics']")).to_contain_text("输入或转写诉求描述后显示建议")

    page.get_by_label("标题（必填）").fill("小区停水")
    page.get_by_label("诉求内容（必填）").fill("金海岸小区停水两天了，自来水一直没来，水压也很低。")
    first_topic = card.locator("[data-list='topics'] li[data-rank='1']")
    expect(first_topic).to_have_attribute("data-code", "03-water")
    expect(first_topic).to_contain_text("供水排水")
    expect(first_topic.locator(".badge.rule")).to_have_text("规则")
    expect(first_topic).to_contain_text("依据：")
    expect(first_topic).to_contain_text("分类关键词规则")
    first_unit = card.locator("[data-list='units'] li[data-rank='1']")
    expect(first_unit).to_have_attribute("data-code", desk.units["housing"])
    expect(first_unit).to_contain_text("派单目录")
    expect(card.locator("[data-role='status']")).to_contain_text("来源：")
    shoot(page, "suggested")

    first_topic.get_by_role("button", name="采用供水排水").click()
    expect(page.get_by_label("业务分类")).to_have_value("03-water")
    first_unit.get_by_role("button", name="采用琼海市住房和城乡建设局").click()
    expect(page.get_by_label("拟派承办单位")).to_have_value("琼海市住房和城乡建设局")
    expect(card.locator("[data-role='applied']")).to_have_text("已采用建议承办单位“琼海市住房和城乡建设局”")

    page.get_by_label("诉求类型（必填）").select_option("complaint")
    page.get_by_role("button", name="保存工单").click()
    expect(page.locator("#form-msg")).to_contain_text("工单已保存")
    number = page.locator("#form-msg").inner_text().split("编号 ")[1][:14]
    shoot(page, "saved")

    deadline = time.monotonic() + 15
    row = None
    while row is None and time.monotonic() < deadline:
        with desk.db.session() as session:
            row = session.scalar(select(SuggestionOutcome).join(m.Ticket, m.Ticket.id == SuggestionOutcome.ticket_id)
                                 .where(m.Ticket.number == number))
            if row is not None:
                session.expunge(row)
        if row is None:
            time.sleep(0.2)
    assert row is not None, "saving the ticket recorded no suggestion outcome"
    assert (row.topic_outcome, row.unit_outcome) == ("top1", "top1")
    assert row.topic_chosen == "03-water" and row.unit_chosen == desk.units["housing"]
    assert row.topics[0]["code"] == "03-water" and row.topics[0]["rule"] is True
    settle(page)
    assert_clean(page)


def test_supervisors_see_the_acceptance_rate_on_the_evaluation_view(page, desk, shoot):
    import httpx

    from tests.browser.conftest import PASSWORD

    with httpx.Client(base_url=desk.url) as client:
        token = client.post("/api/v1/auth/login", json={"username": desk.users["agent"], "password": PASSWORD}
                            ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        saved = client.post("/api/v1/tickets", headers=auth, json={
            "channel": "phone", "title": "工资拖欠", "content": "老板拖欠工资三个月", "appeal_type": "complaint",
            "topic": "03-housing", "citizen_phone": "13900000123"})
        assert saved.status_code == 201, saved.text
        recorded = client.post("/api/v1/suggestions/outcomes", headers=auth, json={
            "ticket": saved.json()["number"], "source": "rules",
            "topics": [{"code": "08-labour", "rule": True}, {"code": "03-housing"}], "units": []})
        assert recorded.status_code == 200 and recorded.json()["topic_outcome"] == "other", recorded.text

    sign_in(page, desk.users["boss"], "/views.html?view=evaluation")
    card = page.locator("#ev-acceptance")
    expect(card.get_by_role("heading", name="智能建议采纳率")).to_be_visible()
    expect(card.locator("#acc-msg")).to_contain_text("有建议记录的工单")
    expect(card.locator("#acc-msg")).to_contain_text("分类第一建议采纳率")
    expect(card.locator("#acc-trend svg > title")).to_have_text("建议采纳率趋势")
    expect(card.locator("#acc-topics")).to_contain_text("劳动社保")
    card.get_by_label("按周").check()
    expect(card.locator("#acc-trend svg polyline")).to_have_count(3)
    shoot(page, "acceptance")
    settle(page)
    assert_clean(page)


def test_the_call_brings_suggestions_and_they_follow_the_conversation(page, desk, rclient, desk_side,  # noqa: F811
                                                                      loop_thread, shoot):
    import datetime as dt
    import json

    from agent_desk.calls import events as ev
    from hotline.contracts.prefill import KEY as PREFILL_KEY
    from hotline.contracts.transcript import Turn
    from tests.support import transcripts

    tracker, _relay = desk_side
    with desk.db.session() as session:   # this desk's org tree has no sub-platforms: 琼海's, as the seed makes it
        if session.scalar(select(m.OrgUnit.id).where(m.OrgUnit.code == "469002")) is None:
            session.add(m.OrgUnit(code="469002", name="琼海市12345热线分平台", kind="subplatform", level="city",
                                  subplatform="469002"))
    agent_ready(page, desk, rclient)

    # the queue's description names a place but no matter yet: nothing to suggest
    call_id = f"{desk.tag}.smart"
    opening = "我要反映，嘉积镇金海岸那边的"
    rclient.set(PREFILL_KEY.format(call_id=call_id), json.dumps(prefill_of(call_id, opening, "final")))
    facts = ev.CallFacts(call_id=call_id, caller="13876540000", line="12345", line_class="main", subplatform="469002",
                         queue="hotline-469002", appeal_type="complaint")
    now = dt.datetime.now(dt.UTC)

    answer_call(loop_thread, tracker, desk, facts, now, first=9)
    card = page.locator("#smart-card")
    expect(page.get_by_label("诉求内容（必填）")).to_have_value(opening)
    expect(card.locator("[data-list='topics']")).to_contain_text("暂无建议")

    # the citizen says what the matter is: the suggestions follow, with the city's catalogue unit (the call's
    # sub-platform is 琼海)
    transcripts.append(rclient, Turn(call_id=call_id, speaker="citizen", seq=1, text="家里停水两天了，水压也很低",
                                     start=23.0, end=27.0))
    first_topic = card.locator("[data-list='topics'] li[data-rank='1']")
    expect(first_topic).to_have_attribute("data-code", "03-water")
    first_unit = card.locator("[data-list='units'] li[data-rank='1']")
    expect(first_unit).to_have_attribute("data-code", desk.units["water"])
    expect(first_unit).to_contain_text("城乡供水由水务部门主管")
    shoot(page, "from-the-call")

    first_unit.get_by_role("button", name="采用琼海市水务局").click()
    expect(page.get_by_label("拟派承办单位")).to_have_value("琼海市水务局")
    page.get_by_label("业务分类").select_option("03-housing")   # the agent overrides the topic
    page.get_by_label("诉求类型（必填）").select_option("complaint")
    page.get_by_role("button", name="保存工单").click()
    expect(page.locator("#form-msg")).to_contain_text("工单已保存")
    number = page.locator("#form-msg").inner_text().split("编号 ")[1][:14]

    deadline = time.monotonic() + 15
    row = None
    while row is None and time.monotonic() < deadline:
        with desk.db.session() as session:
            row = session.scalar(select(SuggestionOutcome).join(m.Ticket, m.Ticket.id == SuggestionOutcome.ticket_id)
                                 .where(m.Ticket.number == number))
        if row is None:
            time.sleep(0.2)
    assert row is not None, "saving the ticket recorded no suggestion outcome"
    assert (row.topic_outcome, row.unit_outcome) in (("overridden", "top1"), ("other", "top1"))
    assert row.unit_chosen == desk.units["water"]
    settle(page)
    assert_clean(page)
