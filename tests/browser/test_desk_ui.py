"""The desk's web pages in a real Chromium against the real desk (uvicorn), database and Redis.

One agent-to-unit scenario: the agent logs in, a call is answered (the call tracker writes the call and pushes
the screen pop over Redis to the page's WebSocket, exactly as in production), the live transcript moves on, the
agent saves the prefilled ticket and dispatches it; after a reload the pop comes back; the unit logs in, signs
and replies; a supervisor approves the reply. Plus the login page's Chinese errors. Screenshots of each step
go to tests/artifacts/browser/. The browser must see no 5xx, no failed request and no console error.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import redis
from playwright.sync_api import expect
from sqlalchemy import select, update

from agent_desk.calls import events as ev
from agent_desk.calls import pop
from agent_desk.db import models as m
from ivr.prefill import Prefill, enrich
from hotline.contracts.prefill import KEY as PREFILL_KEY
from tests.browser.conftest import PASSWORD, answer_call, settle

CALLER = "13876543210"
PARTIAL = "我要投诉，嘉积镇金海岸小区的自来水"
FULL = "我要投诉，嘉积镇金海岸小区的自来水这两天发黄，烧开后有沉淀。我的电话13876543210。"


def login(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def logout(page) -> None:
    # A write still in flight would be cut short by the navigation and counted as a failure; a read the navigation
    # cancels is not (``cancelled_by_navigation``), so only writes are waited for.
    settle(page, writes_only=True)
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/$"))
    expect(page.get_by_role("button", name="登录")).to_be_visible()


def reload(page) -> None:
    """The agent presses F5. As with ``logout``, the writes in flight finish first: a reload would cut them short
    and count them as failures (the 智能建议 POST, which a new transcript turn starts, among them)."""
    settle(page, writes_only=True)
    page.reload()


def assert_clean(page, allowed_statuses: frozenset[int] = frozenset()) -> None:
    watch = page.watch
    assert watch.server_errors() == [], watch.server_errors()
    assert watch.failed == [], watch.failed
    assert watch.page_errors == [], watch.page_errors
    assert watch.unexpected_console_errors(set(allowed_statuses)) == [], watch.console_errors
    assert watch.responses, "the browser recorded no responses at all"


def prefill_of(call_id: str, transcript: str, status: str) -> dict:
    draft = Prefill(call_id=call_id, line="12345", caller=CALLER, menu_choice="2", subplatform="469002",
                    status=status, engine="whisper")
    return enrich(draft, transcript, today=dt.date(2024, 6, 5)).to_dict()


def wait_subscribed(redis_client: redis.Redis, channel: str, timeout: float = 15) -> None:
    """The page's WebSocket says hello before the desk subscribes it to its pop channel: wait for that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dict(redis_client.pubsub_numsub(channel)).get(channel, 0) >= 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"nobody subscribed to {channel}")


def agent_ready(page, desk, rclient) -> None:
    """The agent signed in on the agent page, its WebSocket connected and subscribed to the agent's pops."""
    login(page, desk.users["agent"])
    expect(page).to_have_url(desk.url + "/agent.html")
    expect(page.locator("#ws-state")).to_have_text("已连接")
    wait_subscribed(rclient, pop.channel_for(desk.user_ids["agent"]))


def test_a_wrong_password_shows_the_chinese_error(page, desk, shoot):
    page.goto("/")
    expect(page).to_have_title("登录 · 12345 政务服务便民热线")
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#login-error")).to_have_text("请输入用户名和密码")
    login(page, desk.users["agent2"], "not-the-password")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    expect(page.get_by_label("密码")).to_have_value("")
    assert page.url.endswith("/")
    shoot(page, "wrong-password")
    # The API answered 401 (Chromium notes that in the console); nothing else went wrong.
    assert (401, "POST", desk.url + "/api/v1/auth/login") in page.watch.responses
    assert_clean(page, allowed_statuses=frozenset({401}))


def test_a_call_becomes_a_ticket_that_the_unit_signs_and_answers(page, desk, client, rclient, tracker, loop_thread,
                                                                  shoot):
    token = client.post("/api/v1/auth/login",
                        json={"username": desk.users["agent2"], "password": PASSWORD}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    # The caller has an earlier matter, still open, and overdue at the water bureau.
    earlier = client.post("/api/v1/tickets", headers=auth, json={
        "citizen_phone": CALLER, "title": "小区路灯不亮", "content": "金海岸小区门口的路灯坏了一个月。",
        "appeal_type": "complaint", "topic": "03-sanitation", "location": "琼海市嘉积镇"})
    assert earlier.status_code == 201, earlier.text
    earlier_number = earlier.json()["number"]
    sent = client.post(f"/api/v1/tickets/{earlier_number}/actions/dispatch", headers=auth,
                       json={"host_unit": desk.units["water"]})
    assert sent.status_code == 200, sent.text
    with desk.db.session() as session:
        session.execute(update(m.Ticket).where(m.Ticket.number == earlier_number)
                        .values(due_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)))

    # ── the agent logs in; the page's WebSocket is subscribed to the agent's pop channel ──
    login(page, desk.users["agent"])
    expect(page).to_have_url(desk.url + "/agent.html")
    expect(page.locator("#ws-state")).to_have_text("已连接")
    expect(page.locator("#no-call")).to_be_visible()
    wait_subscribed(rclient, pop.channel_for(desk.user_ids["agent"]))
    shoot(page, "agent-idle")

    # ── a call is answered: the tracker records it and pushes the pop (the listener's own code path) ──
    call_id = f"{desk.tag}.1"
    rclient.set(PREFILL_KEY.format(call_id=call_id), json.dumps(prefill_of(call_id, PARTIAL, "transcribing")))
    facts = ev.CallFacts(call_id=call_id, caller=CALLER, line="12345", line_class="main", subplatform="469002",
                         queue="hotline-469002", appeal_type="complaint")
    now = dt.datetime.now(dt.UTC)

    answer_call(loop_thread, tracker, desk, facts, now)
    assert tracker.pops_sent == 1
    expect(page.locator("#call-caller")).to_have_text(CALLER)
    expect(page.locator("#call-line")).to_have_text("12345政务服务便民热线（12345）")
    expect(page.locator("#call-city")).to_have_text("琼海市")
    expect(page.locator("#transcript")).to_have_text(PARTIAL)
    expect(page.locator("#prefill-status")).to_have_text("正在转写")
    expect(page.get_by_label("诉求内容（必填）")).to_have_value(PARTIAL)
    expect(page.get_by_label("诉求类型（必填）")).to_have_value("complaint")
    expect(page.get_by_label("联系电话")).to_have_value(CALLER)
    earlier_item = page.locator(f"#caller-tickets li[data-number='{earlier_number}']")
    expect(earlier_item).to_contain_text("已派单")
    expect(earlier_item).to_contain_text("未办结")
    expect(earlier_item.get_by_role("button", name=f"关联此工单 {earlier_number}")).to_be_visible()
    # This desk runs without Asterisk: the call controls say so instead of failing requests.
    expect(page.locator("#agent-state")).to_have_text("电话系统未连接")
    expect(page.locator("#phone-msg")).to_have_text("电话系统暂时无法连接，请使用软电话操作")
    expect(page.get_by_role("button", name="转接", exact=True)).to_be_disabled()
    shoot(page, "pop")

    # ── the transcript moves on while the caller speaks (the IVR stores it and the tracker forwards it) ──
    final = prefill_of(call_id, FULL, "final")
    rclient.set(PREFILL_KEY.format(call_id=call_id), json.dumps(final))
    loop_thread.run(tracker.prefill_changed(Prefill.decode(final)))
    expect(page.locator("#transcript")).to_have_text(FULL)
    expect(page.locator("#prefill-status")).to_have_text("转写完成")
    expect(page.locator("#pf-topic")).to_have_text("供水排水")   # by its name, never its code
    expect(page.locator("#pf-unit")).to_have_text("琼海市水务局")
    expect(page.locator("#pf-places")).to_contain_text("嘉积镇")
    expect(page.locator("#pf-phones")).to_have_text(CALLER)
    expect(page.get_by_label("诉求内容（必填）")).to_have_value(FULL)
    expect(page.get_by_label("业务分类")).to_have_value("03-water")
    shoot(page, "live-transcript")

    # ── the agent completes the five elements and saves ──
    page.get_by_label("市民姓名").fill("王小明")
    page.get_by_label("市民诉求").fill("请尽快检查水质")
    page.get_by_label("紧急程度").select_option("urgent")
    page.get_by_role("button", name="保存工单").click()
    expect(page.locator("#form-msg")).to_contain_text("工单已保存")
    detail = page.locator("#ticket-detail")
    expect(detail.locator(".state-cell")).to_contain_text("已受理")
    number = detail.get_attribute("data-number")
    assert number and len(number) == 14 and number != earlier_number
    expect(detail.locator("tr[data-action='accept']")).to_contain_text("受理")
    with desk.db.session() as session:
        row = session.scalar(select(m.Ticket).where(m.Ticket.number == number))
        assert row.call.call_id == call_id and row.content == FULL and row.citizen_name == "王小明"
        assert row.source_line == "12345" and row.topic == "03-water" and row.urgency == "urgent"
        assert row.demand == "请尽快检查水质" and "嘉积镇" in row.location
    shoot(page, "ticket-saved")

    # ── dispatch: host unit and a co-unit ──
    detail.get_by_role("button", name="派单", exact=True).click()
    dispatch = page.locator("form[data-action='dispatch']")
    expect(dispatch).to_contain_text("预填建议承办单位：琼海市水务局")
    # The dispatch catalogue's suggestion fills the host unit in one click.
    suggestion = dispatch.locator(f".suggestions button[data-code='{desk.units['water']}']")
    expect(suggestion).to_have_text("琼海市水务局")
    expect(dispatch.locator(".suggestions")).to_contain_text("城乡供水由水务部门主管")
    suggestion.click()
    expect(dispatch.locator("[data-unit-picker='host_unit']")).to_have_value(desk.units["water"])
    dispatch.locator("[data-unit-picker='co_units']").fill(desk.units["housing"])
    dispatch.locator("[data-unit-picker='co_units']").press("Enter")
    expect(dispatch.locator(f".badge[data-code='{desk.units['housing']}']")).to_be_visible()
    shoot(page, "dispatch-form")
    dispatch.get_by_role("button", name="确认派单").click()
    expect(detail.locator(".state-cell")).to_contain_text("已派单")
    expect(detail.locator("tr[data-action='dispatch']")).to_contain_text("主办单位：琼海市水务局")
    expect(detail.locator(".msg.ok")).to_contain_text("已派单")
    with desk.db.session() as session:
        row = session.scalar(select(m.Ticket).where(m.Ticket.number == number))
        assert row.host_unit.code == desk.units["water"] and row.state == "dispatched"
        housing_id = session.scalar(select(m.OrgUnit.id).where(m.OrgUnit.code == desk.units["housing"]))
        assert row.co_unit_ids == [housing_id]
    shoot(page, "dispatched")

    # ── after a reload the pop comes back from /api/v1/calls/current ──
    reload(page)
    expect(page.locator("#call-caller")).to_have_text(CALLER)
    expect(page.locator("#transcript")).to_have_text(FULL)
    expect(page.locator("#ws-state")).to_have_text("已连接")
    expect(page.locator(f"#caller-tickets li[data-number='{number}']")).to_contain_text("已派单")
    shoot(page, "reloaded")
    logout(page)

    # ── the water bureau signs and replies ──
    login(page, desk.users["water"])
    expect(page).to_have_url(desk.url + "/unit.html")
    mine = page.locator(f"#inbox tr[data-number='{number}']")
    expect(mine).to_contain_text("已派单")
    overdue = page.locator(f"#inbox tr[data-number='{earlier_number}']")
    expect(overdue.locator(".badge.overdue")).to_have_text("超期")
    expect(mine.locator(".badge.overdue")).to_have_count(0)
    shoot(page, "unit-inbox")
    mine.get_by_role("link", name=f"查看工单 {number}").click()
    detail = page.locator("#ticket-detail")
    expect(detail).to_have_attribute("data-number", number)
    expect(detail.get_by_role("button", name="退单")).to_be_visible()
    expect(detail.get_by_role("button", name="派单", exact=True)).to_have_count(0)
    expect(detail).to_contain_text("王小明")   # the host unit of a non-confidential ticket calls the citizen back
    detail.get_by_role("button", name="签收").click()
    page.get_by_role("button", name="确认签收").click()
    expect(detail.locator(".state-cell")).to_contain_text("已签收")
    expect(mine).to_contain_text("已签收")
    shoot(page, "unit-signed")
    detail.get_by_role("button", name="答复", exact=True).click()
    page.locator("form[data-action='reply'] textarea[name='content']").fill("已冲洗管网，水质检测合格。")
    page.get_by_role("button", name="确认答复").click()
    expect(detail.locator(".state-cell")).to_contain_text("已答复")
    expect(detail.locator("tr[data-action='sign']")).to_contain_text("签收")
    expect(detail.locator("tr[data-action='reply']")).to_contain_text("已冲洗管网")
    shoot(page, "unit-replied")
    logout(page)

    # ── a supervisor finds it and approves the reply ──
    login(page, desk.users["boss"])
    expect(page).to_have_url(desk.url + "/supervisor.html")   # the supervisor's home: its work queues
    expect(page.locator(f"[data-queue='review'] li[data-number='{number}']")).to_be_visible()
    page.get_by_role("link", name="工单查询", exact=True).click()
    expect(page).to_have_url(desk.url + "/search.html")
    page.get_by_label("工单编号").fill(number)
    page.get_by_role("button", name="查询").click()
    found = page.locator(f"#results tr[data-number='{number}']")
    expect(found).to_contain_text("已答复")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(found).not_to_contain_text(CALLER)   # search results are always masked, shown as given
    expect(found).to_contain_text(CALLER[:3])
    found.get_by_role("link", name=f"查看工单 {number}").click()
    detail = page.locator("#ticket-detail")
    expect(detail).to_have_attribute("data-number", number)
    detail.get_by_role("button", name="审核通过").click()
    page.get_by_role("button", name="确认审核通过").click()
    expect(detail.locator(".state-cell")).to_contain_text("待回访")
    expect(found).to_contain_text("待回访")
    shoot(page, "supervisor-approved")
    logout(page)

    assert_clean(page)
