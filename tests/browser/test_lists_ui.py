"""The work lists in a real Chromium at 1440×900 and 1920×1080: 工单查询 (a supervisor's) and 待办工单 (a unit's) use
the screen's width, every title stays on one line (ellipsis, the whole title on hover), 受理时间 is never cut, the
deadline says how much time is left or how late it is, every column sorts (both ways), and one click on a row
opens its ticket. Measured from the laid-out page (element boxes), not from the markup. Screenshots at both sizes
go to test-artifacts/browser/. No 5xx, failed request or console error."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from agent_desk.api.pages import STATIC
from agent_desk.db import models as m
from agent_desk.tickets import lifecycle as lc
from tests.support.desk import principal
from tests.browser.test_desk_ui import assert_clean, login
from tests.browser.conftest import settle

SIZES = {"1440": {"width": 1440, "height": 900}, "1920": {"width": 1920, "height": 1080}}
LONGEST = ("关于嘉积镇金海岸小区自来水连续多日发黄并有明显沉淀物、烧开后水壶底部出现大量黄色水垢、"
           "小区物业和供水公司互相推诿、居民多次反映至今未得到解决的投诉及要求尽快检测水质并公开检测结果的诉求"
           "（二期七栋、八栋、九栋住户联名）")[:128]
TITLES = [LONGEST, "路灯不亮", "噪音扰民：夜间施工至凌晨两点",
          "小区门口垃圾清运不及时，气味很大，影响出行和周边商户经营",
          "咨询公积金提取办法"]
STATES = ["dispatched", "signed", "replied", "closed", "dispatched", "awaiting_callback"]


@pytest.fixture(scope="module")
def tickets(desk):
    """(Once for the module's desk.) 36 tickets: both units, six states, deadlines past (overdue), near and far,
    titles from 4 to 128 characters; numbers in order of creation."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    made = []
    with desk.db.session() as session:
        units = {short: session.scalar(select(m.OrgUnit.id).where(m.OrgUnit.code == code))
                 for short, code in desk.units.items()}
        for i in range(36):
            state = STATES[i % len(STATES)]
            created = now - dt.timedelta(hours=36 - i, minutes=i)
            due = None if i % 7 == 3 else now + dt.timedelta(hours=(i % 5 - 2) * 20 + 3)
            unit = "water" if i % 3 else "housing"
            row = m.Ticket(number=f"20261101{i + 1:06d}", channel="phone", title=TITLES[i % len(TITLES)],
                           content=f"测试工单{i}的诉求内容", appeal_type="complaint", state=state,
                           host_unit_id=units[unit], due_at=due, dispatched_at=created, created_at=created,
                           updated_at=created, citizen_phone=f"13900{i:06d}", citizen_name="张三")
            session.add(row)
            made.append({"number": row.number, "title": row.title, "state": state, "due": due, "unit": unit,
                         "created": created})
    return made


def one_line_problems(page, table: str) -> list[str]:
    """What is wrong with the list's layout: a title taller than one line or narrower than 15 characters, a 受理时间
    that is cut, a row taller than two lines (the deadline's time and time left are the two)."""
    return page.evaluate("""(table) => {
      const out = [];
      const rows = document.querySelectorAll(`${table} tbody tr[data-number]`);
      if (!rows.length) out.push("no rows");
      for (const tr of rows) {
        const n = tr.dataset.number;
        const title = tr.querySelector("td.c-title .one-line");
        const line = parseFloat(getComputedStyle(title).lineHeight);
        const box = title.getBoundingClientRect();
        if (box.height > line * 1.3) out.push(`${n}: title ${box.height}px tall (a line is ${line}px)`);
        const size = parseFloat(getComputedStyle(title).fontSize);
        if (box.width < size * 15) out.push(`${n}: title only ${box.width}px wide`);
        if (title.title !== title.textContent) out.push(`${n}: hover text is not the whole title`);
        const created = tr.querySelector("td.c-created");
        if (created.scrollWidth > created.clientWidth + 1) out.push(`${n}: 受理时间 cut`);
        const tall = tr.getBoundingClientRect().height;
        if (tall > line * 2 + 24) out.push(`${n}: row ${tall}px`);
      }
      return out;
    }""", table)


def sort_by(page, table: str, column: str) -> None:
    """Clicks a column's header (a button named by the header, its title saying what a click does)."""
    header = page.locator(f"{table} th.c-{column} button.sort")
    expect(header).to_have_attribute("title", re.compile("^按.+排序"))
    header.click()


def numbers(page, table: str) -> list[str]:
    return page.eval_on_selector_all(f"{table} tbody tr[data-number]", "rows => rows.map(r => r.dataset.number)")


def test_the_search_list_uses_the_screen_sorts_and_opens_a_ticket_in_one_click(page, desk, tickets, shoot):
    login(page, desk.users["boss"])
    settle(page)
    page.goto("/search.html")
    expect(page.locator("#results tbody tr[data-number]")).to_have_count(36)
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        assert one_line_problems(page, "#results") == [], size
        table = page.locator("#results").bounding_box()
        assert table and table["width"] >= 0.9 * viewport["width"], (size, table)
        shoot(page, f"search-{size}")
    longest = page.locator(f"#results tr[data-number='{tickets[0]['number']}'] td.c-title .one-line")
    expect(longest).to_have_attribute("title", LONGEST)
    assert longest.evaluate("e => e.scrollWidth > e.clientWidth")   # cut with an ellipsis, not wrapped

    # deadline with time left / overdue
    late = next(t for t in tickets if t["due"] and t["due"] < dt.datetime.now(dt.UTC) and t["state"] in
                {"dispatched", "signed", "replied"})
    expect(page.locator(f"#results tr[data-number='{late['number']}'] td.c-due")).to_contain_text("已超期")
    running = next(t for t in tickets if t["due"] and t["due"] > dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
                   and t["state"] in {"dispatched", "signed", "replied"})
    expect(page.locator(f"#results tr[data-number='{running['number']}'] td.c-due")).to_contain_text("剩余")
    closed = next(t for t in tickets if t["due"] and t["state"] == "closed")
    expect(page.locator(f"#results tr[data-number='{closed['number']}'] td.c-due .time-left")).to_have_count(0)

    # sorting, both ways, by every kind of column
    everyone = sorted(t["number"] for t in tickets)
    assert numbers(page, "#results") == everyone[::-1]   # the API's order: newest first
    header = page.locator("#results th.c-number").get_by_role("button", name="工单编号")
    header.click()
    assert numbers(page, "#results") == everyone
    expect(page.locator("#results th.c-number")).to_have_attribute("aria-sort", "ascending")
    header.click()
    assert numbers(page, "#results") == everyone[::-1]
    expect(page.locator("#results th.c-number")).to_have_attribute("aria-sort", "descending")

    sort_by(page, "#results", "due")
    by_number = {t["number"]: t for t in tickets}
    dues = [by_number[n]["due"] for n in numbers(page, "#results")]
    known = [d for d in dues if d is not None]
    assert known == sorted(known) and dues[len(known):] == [None] * (len(dues) - len(known))

    sort_by(page, "#results", "created")
    assert numbers(page, "#results") == everyone   # created in number order

    sort_by(page, "#results", "unit")
    units = [by_number[n]["unit"] for n in numbers(page, "#results")]
    assert units == sorted(units, key=lambda u: {"water": 0, "housing": 1}[u])   # 琼海市水(shuǐ) before 住(zhù)

    sort_by(page, "#results", "title")
    titles = [by_number[n]["title"] for n in numbers(page, "#results")]
    assert titles.index("路灯不亮") < titles.index("小区门口垃圾清运不及时，气味很大，影响出行和周边商户经营") \
        < titles.index("咨询公积金提取办法")   # 拼音: lù < xiǎo < zī
    sort_by(page, "#results", "state")
    states = [by_number[n]["state"] for n in numbers(page, "#results")]
    runs = [state for i, state in enumerate(states) if i == 0 or states[i - 1] != state]
    assert sorted(runs) == sorted(set(STATES))   # each state's tickets together
    shoot(page, "search-sorted-by-state")

    # one click on a row (its title) opens that ticket beside the list; the address names it
    target = tickets[5]["number"]
    page.locator(f"#results tr[data-number='{target}'] td.c-title").click()
    detail = page.locator("#ticket-detail")
    expect(detail).to_have_attribute("data-number", target)
    expect(page.locator("#detail-card")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/search\.html\?number={target}$"))
    expect(page.locator("#results")).to_be_visible()
    shoot(page, "search-ticket-open")
    page.get_by_role("button", name="关闭").click()
    expect(page.locator("#detail-card")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/search\.html$"))
    # the link of a ticket number opens it too, and so does the address
    page.goto(f"/search.html?number={target}")
    expect(detail).to_have_attribute("data-number", target)
    assert_clean(page)


def test_the_units_inbox_uses_the_screen_and_sorts(page, desk, tickets, shoot):
    login(page, desk.users["water"])
    expect(page).to_have_url(desk.url + "/unit.html")
    mine = [t for t in tickets if t["unit"] == "water"]
    expect(page.locator("#inbox tbody tr[data-number]")).to_have_count(len(mine))
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        assert one_line_problems(page, "#inbox") == [], size
        shoot(page, f"inbox-{size}")
    sort_by(page, "#inbox", "due")
    by_number = {t["number"]: t for t in tickets}
    dues = [by_number[n]["due"] for n in numbers(page, "#inbox")]
    known = [d for d in dues if d is not None]
    assert known == sorted(known) and None not in dues[: len(known)]
    page.locator(f"#inbox tr[data-number='{mine[0]['number']}'] td.c-state").click()
    expect(page.locator("#ticket-detail")).to_have_attribute("data-number", mine[0]["number"])
    assert_clean(page)


def test_the_lists_deadline_states_are_the_lifecycles():
    """ticket-list.js shows time left where the deadline runs: lifecycle.UNIT_HANDLING, one definition."""
    script = (STATIC / "ticket-list.js").read_text(encoding="utf-8")
    found = re.search(r"DEADLINE_STATES = new Set\(\[([^\]]*)\]\)", script)
    assert found
    assert set(re.findall(r'"(\w+)"', found.group(1))) == {s.value for s in lc.UNIT_HANDLING}


# ── the ticket opened from a list: long text collapsed, the desk's own validation, 退单 in the facts ─────────────


LONG_CONTENT = "小区二次供水水箱长期未清洗，" * 360   # 5,040 characters


@pytest.fixture(scope="module")
def handled(desk):
    """(Once for the module's desk.) A ticket with a 5,040-character description dispatched to the water bureau, and
    one dispatched to the housing bureau (another unit's, for the water bureau)."""
    from agent_desk.tickets import service

    now = dt.datetime.now(dt.UTC)
    out = {}
    with desk.db.session() as session:
        agent = principal(session, desk.users["agent"])
        for name, unit, content in (("long", "water", LONG_CONTENT), ("other", "housing", "楼道灯不亮")):
            draft = service.TicketDraft(citizen_name="李四", citizen_phone=f"1355500{len(out):04d}",
                                        title=f"列表测试{name}", content=content, appeal_type="complaint")
            number = service.create(session, agent, draft, now=now - dt.timedelta(hours=2)).ticket.number
            service.act(session, agent, desk.settings, number, "dispatch", {"host_unit": desk.units[unit]},
                        now=now - dt.timedelta(hours=1))
            out[name] = number
    return out


def test_a_long_ticket_keeps_its_buttons_in_sight_and_the_forms_speak_chinese(page, desk, handled, client, shoot):
    number = handled["long"]
    page.set_viewport_size(SIZES["1440"])
    login(page, desk.users["water"])
    expect(page).to_have_url(desk.url + "/unit.html")
    page.locator(f"#inbox tr[data-number='{number}']").click()
    detail = page.locator("#ticket-detail")
    expect(detail).to_have_attribute("data-number", number)
    # 5,040 characters collapsed behind 展开: 签收 and 退单 are on the first screen
    sign = detail.get_by_role("button", name="签收")
    expect(sign).to_be_in_viewport()
    expect(detail.get_by_role("button", name="退单")).to_be_in_viewport()
    more = detail.get_by_role("button", name="展开")
    more.click()
    expect(detail.get_by_role("button", name="收起")).to_have_attribute("aria-expanded", "true")
    expect(detail.locator(".long").first).not_to_have_class(re.compile("collapsed"))
    detail.get_by_role("button", name="收起").click()
    expect(sign).to_be_in_viewport()
    shoot(page, "long-ticket-1440")
    # 签收 and 退单 look different (each decision its own style)
    styles = [b.evaluate("b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color].join()")
              for b in (sign, detail.get_by_role("button", name="退单"))]
    assert styles[0] != styles[1]

    # 退单 with nothing filled: the desk's own messages, nothing sent
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    detail.get_by_role("button", name="退单").click()
    form = page.locator("form[data-action='request_return']")
    assert form.get_attribute("novalidate") is not None
    expect(form.locator("label", has_text="退单理由").locator(".req")).to_have_text("*")
    page.get_by_role("button", name="确认退单").click()
    expect(form.locator(".field-error")).to_have_text(["请填写退单理由", "请填写法律法规依据"])
    expect(form.locator("textarea[name='reason']")).to_be_focused()
    assert posted == []
    # too long: counted as typed, refused with a message, never cut
    reason = form.locator("textarea[name='reason']")
    reason.fill("理" * 2001)
    expect(form.locator(".counter").first).to_have_text("2001/2000 字，超出 1 字")
    form.locator("textarea[name='legal_basis']").fill("《城市供水条例》第二十二条")
    page.get_by_role("button", name="确认退单").click()
    expect(form.locator(".field-error")).to_have_text(["退单理由不能超过 2000 字（现有 2001 字，请删减 1 字）"])
    assert len(reason.input_value()) == 2001 and posted == []
    shoot(page, "return-too-long")
    why = "供水管网属于供水公司维护，不属于本单位职责"
    reason.fill(why)
    expect(form.locator(".counter").first).to_have_text(f"{len(why)}/2000 字")
    page.get_by_role("button", name="确认退单").click()
    expect(detail.locator(".state-cell")).to_contain_text("退单审核中")
    # the 退单 in the ticket's facts, not only in its history
    facts = detail.locator("dl.kv")
    expect(facts).to_contain_text("供水管网属于供水公司维护，不属于本单位职责")
    expect(facts).to_contain_text("《城市供水条例》第二十二条")
    expect(facts).to_contain_text("待平台审核")

    # another unit's ticket: said in Chinese, not an empty card
    page.goto(f"/unit.html?number={handled['other']}")
    expect(page.locator("#detail-card .msg.error")).to_contain_text("不是本单位承办、协办的工单")
    expect(page.locator("#ticket-detail")).to_be_empty()
    assert_clean(page, allowed_statuses=frozenset({404}))


def test_the_platforms_decisions_look_different_and_an_answer_shows_in_the_facts(page, desk, handled, shoot):
    number = handled["long"]   # 退单审核中 after the test above
    login(page, desk.users["boss"])
    settle(page)
    page.goto(f"/search.html?number={number}")
    detail = page.locator("#ticket-detail")
    expect(detail).to_have_attribute("data-number", number)
    buttons = [detail.get_by_role("button", name=name, exact=True) for name in ("同意退单", "驳回退单", "升级", "督办")]
    looks = [b.evaluate("b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color].join()")
             for b in buttons]
    assert len(set(looks)) == len(looks), looks
    shoot(page, "platform-decisions")
    detail.get_by_role("button", name="驳回退单").click()
    page.locator("form[data-action='reject_return'] textarea[name='reason']").fill("职责清楚，请继续办理")
    page.get_by_role("button", name="确认驳回退单").click()
    expect(detail.locator(".state-cell")).to_contain_text("已派单")
    expect(detail.locator("dl.kv")).to_contain_text("已驳回")
    expect(detail.locator("dl.kv")).to_contain_text("职责清楚，请继续办理")
    assert_clean(page)


def test_an_unknown_address_is_a_chinese_page_for_browsers_and_json_for_programs(page, desk, client):
    response = page.goto("/no-such-page.html")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="页面不存在")).to_be_visible()
    expect(page.get_by_role("link", name="返回首页")).to_have_attribute("href", "/")
    api_like = client.get("/no-such-page.html", headers={"Accept": "application/json"})
    assert api_like.status_code == 404 and api_like.json()["message"] == "请求的地址不存在"
    assert client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"}).json()["error"] == "http_404"
    assert_clean(page, allowed_statuses=frozenset({401, 404}))
