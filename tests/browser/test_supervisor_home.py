"""The supervisor's home (我的待办) in a real Chromium at 1440×900 and 1920×1080: signing in leads there, each work
queue shows the right count for a known set of tickets (run through the real lifecycle) and its oldest items first,
one click opens a ticket beside the queues, an approval from there moves the counts, and 查看全部 lists the whole
queue in 工单查询 with its filter set. Screenshots go to test-artifacts/browser/. No 5xx, failed request or console
error."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from playwright.sync_api import expect

from agent_desk.supervision.warnings import ACTIVE
from agent_desk.tickets import service
from tests.support.desk import principal
from tests.browser.test_desk_ui import assert_clean, login

SIZES = {"1440": {"width": 1440, "height": 900}, "1920": {"width": 1920, "height": 1080}}




@pytest.fixture(scope="module")
def scenario(desk):
    """(Once for the module's desk.) Two replies to review, one 退单 to decide, one callback due, one ticket late, one
    escalated, one waiting for dispatch (in no queue)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    numbers: dict[str, str] = {}
    with desk.db.session() as session:
        agent, boss = principal(session, desk.users["agent"]), principal(session, desk.users["boss"])
        water = principal(session, desk.users["water"])

        def ticket(name: str, hours_ago: float) -> None:
            draft = service.TicketDraft(citizen_name="测试市民", citizen_phone=f"1366600{len(numbers):04d}",
                                        title=f"首页{name}：小区供水压力不足，高层住户无水可用",
                                        content=f"{name}的诉求内容",
                                        appeal_type="complaint")
            numbers[name] = service.create(session, agent, draft, now=now - dt.timedelta(hours=hours_ago)).ticket.number

        def act(who, name: str, action: str, hours_ago: float, **payload) -> None:
            service.act(session, who, desk.settings, numbers[name], action, payload,
                        now=now - dt.timedelta(hours=hours_ago))

        for name, start, reply in (("R1", 30, 20), ("R2", 10, 2), ("C1", 12, 8)):
            ticket(name, start)
            act(agent, name, "dispatch", start - 0.1, host_unit=desk.units["water"])
            act(water, name, "sign", start - 0.5)
            act(water, name, "reply", reply, content=f"{name}已处理。")
        act(boss, "C1", "approve_reply", 6)
        ticket("B1", 6)
        act(agent, "B1", "dispatch", 5.9, host_unit=desk.units["water"])
        act(water, "B1", "request_return", 5, reason="不属于本单位职责", legal_basis="《城市供水条例》")
        ticket("O1", 24 * 40)
        act(agent, "O1", "dispatch", 24 * 40 - 0.1, host_unit=desk.units["housing"])
        ticket("E1", 20)
        act(agent, "E1", "dispatch", 19.9, host_unit=desk.units["housing"])
        act(boss, "E1", "escalate", 3, to="county", reason="镇级无法协调")
        ticket("N", 1)
    return numbers


def count(page, key: str):
    return page.locator(f"[data-queue='{key}'] .q-count")


def items(page, key: str) -> list[str]:
    return page.eval_on_selector_all(f"[data-queue='{key}'] li[data-number]", "li => li.map(x => x.dataset.number)")


def test_the_supervisors_home_lists_its_queues_with_their_counts(page, desk, scenario, rclient, shoot):
    n = scenario
    alerts = [{"id": f"w{i:015x}", "rule": "town-24h", "rule_label": "乡镇聚集", "title": title, "area": f"46900210{i}",
               "area_name": "嘉积镇", "topic": "", "topic_name": "", "keywords": [], "count": 5, "window_hours": 24,
               "first_at": raised, "last_at": raised, "raised_at": raised, "tickets": [n["R1"]],
               "acknowledged_by": None, "acknowledged_at": None}
              for i, (title, raised) in enumerate([
                  ("嘉积镇 24小时内 5 件“自来水”相关诉求", "2026-12-01T09:00:00+08:00"),
                  ("博鳌镇 24小时内 6 件“停电”相关诉求", "2026-11-30T09:00:00+08:00")])]
    for alert in alerts:
        rclient.hset(ACTIVE, alert["id"], json.dumps(alert, ensure_ascii=False))

    page.set_viewport_size(SIZES["1440"])
    login(page, desk.users["boss"])
    expect(page).to_have_url(desk.url + "/supervisor.html")
    expect(page.get_by_role("link", name="我的待办")).to_have_attribute("aria-current", "page")
    expected = {"review": "2", "returns": "1", "callbacks": "1", "overdue": "1", "escalated": "1", "warnings": "2"}
    for key, value in expected.items():
        expect(count(page, key)).to_have_attribute("data-count", value)
        expect(count(page, key)).to_contain_text(value)
    assert items(page, "review") == [n["R1"], n["R2"]]   # the oldest reply first
    assert items(page, "returns") == [n["B1"]] and items(page, "callbacks") == [n["C1"]]
    assert items(page, "overdue") == [n["O1"]] and items(page, "escalated") == [n["E1"]]
    assert n["N"] not in page.locator("#queues").inner_text()
    expect(page.locator("[data-queue='warnings'] li[data-warning]").first).to_contain_text("博鳌镇")
    expect(page.locator(f"[data-queue='review'] li[data-number='{n['R1']}']")).to_contain_text("已等待 20小时")
    expect(page.locator(f"[data-queue='overdue'] li[data-number='{n['O1']}']")).to_contain_text("已超期")
    shoot(page, "home-1440")
    page.set_viewport_size(SIZES["1920"])
    shoot(page, "home-1920")

    # one click opens the ticket beside the queues; approving it there moves it to 待回访
    page.locator(f"[data-queue='review'] li[data-number='{n['R1']}'] .q-title").click()
    detail = page.locator("#ticket-detail")
    expect(detail).to_have_attribute("data-number", n["R1"])
    detail.get_by_role("button", name="审核通过").click()
    page.get_by_role("button", name="确认审核通过").click()
    expect(detail.locator(".state-cell")).to_contain_text("待回访")
    expect(count(page, "review")).to_have_attribute("data-count", "1")
    expect(count(page, "callbacks")).to_have_attribute("data-count", "2")
    shoot(page, "home-approved")
    page.get_by_role("button", name="关闭").click()

    # 查看全部: the whole queue in 工单查询, its filter set
    page.locator("[data-queue='review']").get_by_role("link", name=re.compile("在工单查询中查看全部")).click()
    expect(page).to_have_url(re.compile(r"/search\.html\?state=replied$"))
    expect(page.get_by_label("状态", exact=True)).to_have_value("replied")
    expect(page.locator("#results tbody tr[data-number]")).to_have_count(1)
    expect(page.locator(f"#results tr[data-number='{n['R2']}']")).to_be_visible()
    assert_clean(page)
