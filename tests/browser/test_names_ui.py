"""Names, not codes, on every page a person reads (issue 19, point 6), in a real Chromium against the real desk.

The desk's database holds the shipped reference data (the whole org tree, the 派单目录, the knowledge base, as
``hotline install`` loads it). Tickets are worked through the API the pages use: dispatched to 海口市住房和城乡建设局
with 海南省水务厅 as 协办, signed and answered by that unit's user, 督办 and 升级 by a supervisor, one 直接办结 citing a
knowledge article. Then each page (agent, ticket search with a ticket open and its 派单 and 直接办结 forms, unit
inbox with the ticket open, 坐席管理, knowledge search, 观管评, 实时监控, reports) is scanned: its visible text
(``innerText``) must hold no code of the org tree, the topic list, the queue list, the knowledge base, and no login
name of the people who worked the tickets. Screenshots at 1440×900 and 1920×1080 go to tests/artifacts/browser/.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import create_user
from agent_desk.db import models as m
from agent_desk.knowledge.models import KnowledgeArticle
from agent_desk.seed import load_reference_data
from hotline.numberplan import load_plan
from hotline.reference import topics
from tests.browser.conftest import PASSWORD, settle
from tests.browser.test_desk_ui import assert_clean, login, logout

PLAN = Path(__file__).resolve().parents[2] / "asterisk_conf" / "numbers.yaml"
SIZES = ((1440, 900), (1920, 1080))
HOST, CO = "460100-housing", "hn-water"
ARTICLE = "hotline-scope"     # a knowledge article of agent_desk/data/knowledge.yaml


class Worked:
    def __init__(self):
        self.numbers: dict[str, str] = {}
        self.codes: list[str] = []
        self.unit_user = ""


def bearer(client: httpx.Client, username: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


@pytest.fixture(scope="module")
def worked(desk) -> Worked:
    out = Worked()
    out.unit_user = f"{desk.tag}-hk-housing"
    with desk.db.session() as session:
        load_reference_data(session)
        create_user(session, out.unit_user, PASSWORD, Role.UNIT, display_name="海口住建王科长", unit_code=HOST)
        for short, name in (("agent", "张晓梅"), ("boss", "陈班长")):
            session.execute(update(m.User).where(m.User.username == desk.users[short]).values(display_name=name))
    with httpx.Client(base_url=desk.url, timeout=30) as client:
        agent, boss = bearer(client, desk.users["agent"]), bearer(client, desk.users["boss"])
        unit = bearer(client, out.unit_user)

        def post(headers, url, body=None):
            answer = client.post(url, headers=headers, json=body)
            assert answer.status_code in (200, 201), (url, answer.text)
            return answer.json()

        def ticket(title: str, topic: str, phone: str) -> str:
            return post(agent, "/api/v1/tickets", {
                "channel": "phone", "citizen_name": "王小明", "citizen_phone": phone, "title": title,
                "content": f"{title}，请尽快处理。", "appeal_type": "complaint", "topic": topic,
                "subplatform": "460100", "location": "海口市美兰区"})["number"]

        worked_one = out.numbers["worked"] = ticket("小区电梯停运一周", "03-housing", "13800138001")
        act = f"/api/v1/tickets/{worked_one}/actions"
        post(agent, f"{act}/dispatch", {"host_unit": HOST, "co_units": [CO]})
        post(unit, f"{act}/sign")
        post(boss, f"{act}/supervise", {"note": "请三日内答复"})
        post(boss, f"{act}/escalate", {"to": "province", "reason": "需省级协调"})
        post(unit, f"{act}/reply", {"content": "已督促物业修复电梯。"})
        out.numbers["direct"] = ticket("咨询热线受理范围", "03-water", "13800138002")
        post(agent, f"/api/v1/tickets/{out.numbers['direct']}/actions/resolve_directly",
             {"answer": "已告知受理范围。", "knowledge_ref": ARTICLE})
        out.numbers["open"] = ticket("路灯不亮", "03-sanitation", "13800138003")
    with desk.db.session() as session:
        units = list(session.scalars(select(m.OrgUnit.code)))
        articles = list(session.scalars(select(KnowledgeArticle.code)))
    queues = list(load_plan(PLAN).all_queues())
    people = [desk.users["agent"], desk.users["boss"], out.unit_user]
    out.codes = sorted({*units, *(t["code"] for t in topics()), *queues, *articles, *people}, key=len, reverse=True)
    assert HOST in out.codes and "03-water" in out.codes and "sp-460100" in out.codes and ARTICLE in out.codes
    assert len(units) > 100, "the shipped org tree was not loaded"
    return out


def codes_shown(page, codes: list[str]) -> list[str]:
    """The codes the page's visible text shows, each as a whole token (a ticket number is not a unit code)."""
    text = page.evaluate("() => document.body.innerText")
    pattern = re.compile(r"(?<![A-Za-z0-9_.-])(" + "|".join(re.escape(c) for c in codes) + r")(?![A-Za-z0-9_-])")
    return sorted({match.group(1) for match in pattern.finditer(text)})


def scan(page, worked: Worked, shoot, step: str) -> None:
    settle(page)
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        shoot(page, f"{step}-{width}x{height}")
    assert codes_shown(page, worked.codes) == [], f"{step} shows codes"


def test_the_scan_finds_a_code_where_one_is_shown(page, desk, worked):
    """The scan itself can fail: a page that shows a code, a login name or a queue is caught."""
    login(page, desk.users["boss"])
    expect(page.locator("#whoami")).to_contain_text("陈班长")
    page.evaluate("""([a, b, c]) => { const p = document.createElement('p');
        p.textContent = `主办单位：${a}；办理人：${b}（${c}）`; document.body.append(p); }""",
                  [HOST, desk.users["boss"], "sp-460100"])
    assert codes_shown(page, worked.codes) == sorted([HOST, desk.users["boss"], "sp-460100"])
    page.evaluate("() => document.body.lastChild.remove()")
    assert codes_shown(page, worked.codes) == []


def test_no_page_shows_a_code_where_a_name_belongs(page, desk, worked, shoot):
    # ── the agent: its page, a ticket with its 派单 and 直接办结 forms, the knowledge search ──
    login(page, desk.users["agent"])
    expect(page).to_have_url(desk.url + "/agent.html")
    expect(page.locator("#whoami")).to_contain_text("张晓梅")
    scan(page, worked, shoot, "agent")

    page.goto(f"/search.html?number={worked.numbers['open']}")
    detail = page.locator("#ticket-detail")
    expect(detail).to_contain_text("市容环卫")          # the topic by its name
    detail.get_by_role("button", name="派单").click()
    expect(detail.locator("form[data-action=dispatch] .suggestions li").first).to_be_visible()
    scan(page, worked, shoot, "agent-dispatch-form")
    detail.get_by_role("button", name="直接办结").click()
    box = detail.get_by_label("搜索知识库")
    box.fill("受理范围")
    box.press("Enter")
    expect(detail.locator(".kb-results li").first).to_contain_text("12345热线受理范围")
    scan(page, worked, shoot, "agent-knowledge")

    page.goto(f"/search.html?number={worked.numbers['direct']}")
    history = page.locator("table.history")
    expect(history.locator("tr[data-action=resolve_directly]")).to_contain_text("知识库：12345热线受理范围")
    expect(history.locator("tr[data-action=resolve_directly]")).to_contain_text("张晓梅")
    logout(page)

    # ── the supervisor: 我的待办, the worked ticket's history, 坐席管理, 观管评, 实时监控, reports ──
    login(page, desk.users["boss"])
    expect(page).to_have_url(desk.url + "/supervisor.html")   # 我的待办, the supervisor's home
    settle(page)
    scan(page, worked, shoot, "supervisor-home")
    page.goto(f"/search.html?number={worked.numbers['worked']}")
    detail = page.locator("#ticket-detail")
    expect(detail).to_contain_text("住房物业")
    expect(detail).to_contain_text("海口市住房和城乡建设局")
    history = page.locator("table.history")
    expect(history.locator("tr[data-action=dispatch]")).to_contain_text(
        "主办单位：海口市住房和城乡建设局；协办单位：海南省水务厅")
    expect(history.locator("tr[data-action=dispatch]")).to_contain_text("张晓梅")
    expect(history.locator("tr[data-action=sign]")).to_contain_text("海口住建王科长")
    expect(history.locator("tr[data-action=supervise]")).to_contain_text("第1次督办")
    expect(history.locator("tr[data-action=escalate]")).to_contain_text("升级至：省")
    scan(page, worked, shoot, "supervisor-ticket")
    for path, ready in (("/agents.html", "#agents-table"), ("/views.html", "#topbar nav"),
                        ("/wallboard.html", "#topbar nav"), ("/report.html", "#topbar nav")):
        page.goto(path)
        expect(page.locator(ready)).to_be_visible()
        scan(page, worked, shoot, "supervisor" + path.replace("/", "-").removesuffix(".html"))
    logout(page)

    # ── the unit: its inbox and the ticket, its own unit named in the header ──
    login(page, worked.unit_user)
    expect(page).to_have_url(desk.url + "/unit.html")
    expect(page.locator("#whoami")).to_contain_text("海口住建王科长（承办单位 · 海口市住房和城乡建设局）")
    settle(page)
    page.goto(f"/unit.html?number={worked.numbers['worked']}")
    expect(page.locator("#ticket-detail")).to_contain_text("主办单位：海口市住房和城乡建设局")
    scan(page, worked, shoot, "unit")
    # 坐席管理 answered 503 for the phone system's data (this desk has none); nothing else went wrong.
    watch = page.watch
    phone_only = [r for r in watch.server_errors()
                  if r[0] == 503 and re.search(r"/api/v1/(agents|pause-reasons)", r[2])]
    assert phone_only and watch.server_errors() == phone_only, watch.server_errors()
    watch.responses[:] = [r for r in watch.responses if r not in phone_only]
    assert_clean(page, allowed_statuses=frozenset({503}))
