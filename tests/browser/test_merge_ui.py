"""并单 on the desk's pages in a real Chromium against the real desk: while the agent writes a new ticket the panel
可能重复的诉求 lists the open ticket about the same matter (another caller's, masked); the agent chooses it and
saves; both tickets show the link (已并入 N / 并单：M); a supervisor sees 撤销并单 and unmerges with a reason.
The browser must see no 5xx, no failed request and no console error."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.test_desk_ui import assert_clean, login, logout

WATER = "嘉积镇银海路与金海路路口下雨后积水很深，行人和电动车都无法通过，排水井被堵住了。"


def test_candidates_show_and_a_merge_shows_on_both_tickets(page, desk, client, shoot):
    token = client.post("/api/v1/auth/login",
                        json={"username": desk.users["agent2"], "password": PASSWORD}).json()["token"]
    made = client.post("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"}, json={
        "citizen_name": "李四", "citizen_phone": "13900000021", "title": "银海路路口积水", "content": WATER,
        "appeal_type": "complaint", "location": "琼海市嘉积镇银海路88号", "subplatform": "469002"})
    assert made.status_code == 201, made.text
    host = made.json()["number"]

    # ── the agent writes a new ticket (another caller); the pop set the call's sub-platform ──
    login(page, desk.users["agent"])
    expect(page).to_have_url(desk.url + "/agent.html")
    expect(page.locator("#ws-state")).to_have_text("已连接")   # the page is ready (its scripts are running)
    page.locator("#ticket-form input[name='subplatform']").evaluate("(input) => { input.value = '469002'; }")
    page.get_by_label("标题（必填）").fill("路口积水")
    page.get_by_label("诉求内容（必填）").fill("银海路路口积水，排水井堵了，走不过去")
    panel = page.locator("#duplicates-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_role("heading")).to_have_text("可能重复的诉求")
    candidate = panel.locator(f"li[data-number='{host}']")
    expect(candidate).to_contain_text("银海路路口积水")
    expect(candidate).to_contain_text("相似度")
    expect(candidate).to_contain_text("共同词语")
    expect(candidate).to_contain_text("银海路**号")       # the place, not the door
    expect(candidate).to_contain_text("李*")
    expect(candidate).not_to_contain_text("13900000021")   # another caller's contact: masked
    shoot(page, "candidates")

    candidate.get_by_role("button", name="保存并并入此工单").click()
    expect(page.locator("#merge-banner")).to_contain_text(f"保存时本工单将并入工单 {host}")
    page.get_by_label("诉求类型（必填）").select_option("complaint")
    page.get_by_role("button", name="保存工单").click()
    expect(page.locator("#form-msg")).to_contain_text(f"已并入工单 {host}")
    detail = page.locator("#ticket-detail")
    expect(detail.locator(".state-cell")).to_contain_text("已并单")
    merged = detail.get_attribute("data-number")
    assert merged and merged != host
    expect(detail).to_contain_text(f"已并入 {host}")
    expect(detail.locator("tr[data-action='merge']")).to_contain_text("并单")
    expect(detail.get_by_role("button", name="派单")).to_have_count(0)   # nothing to handle on its own
    shoot(page, "merged-saved")
    logout(page)

    # ── a supervisor sees both tickets linked, and unmerges ──
    login(page, desk.users["boss"])
    expect(page.locator("#queues")).not_to_be_empty()   # the supervisor's home, settled before leaving it
    page.goto("/search.html")
    for number, link in ((host, f"并单：{merged}"), (merged, f"已并入 {host}")):
        page.get_by_label("工单编号").fill(number)
        page.get_by_role("button", name="查询").click()
        page.locator(f"#results tr[data-number='{number}']").get_by_role("link", name=f"查看工单 {number}").click()
        detail = page.locator("#ticket-detail")
        expect(detail).to_have_attribute("data-number", number)
        expect(detail).to_contain_text(link)
    shoot(page, "both-linked")
    detail.get_by_role("button", name="撤销并单").click()
    form = page.locator("form[data-action='unmerge']")
    form.locator("textarea[name='reason']").fill("地点不同：金海路另一段")
    page.get_by_role("button", name="确认撤销并单").click()
    expect(detail.locator(".state-cell")).to_contain_text("已受理")
    expect(detail.locator("tr[data-action='unmerge']")).to_contain_text("地点不同")
    expect(detail).not_to_contain_text(f"已并入 {host}")
    shoot(page, "unmerged")
    logout(page)

    assert_clean(page)
