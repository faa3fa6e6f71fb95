"""The supervisors' 观/管/评 big-screen views (views.html) and the printable report page (report.html) in a real
Chromium against the real desk, on a small dataset written through the ticket service (the same use cases the
API runs) with times in June 2024, plus calls as the call tracker writes them.

The dataset (province time; 琼海市 469002 with 嘉积镇 ⊃ 金海岸社区 and 博鳌镇, 海口市 460100 with 长流镇):

    T1 2024-06-12 金海岸社区  complaint    → 水务局, signed, replied, approved, callback 满意, solved    (closed)
    T2 2024-06-12 嘉积镇      complaint    → 水务局, signed, replied, approved, callback 不满意        (unsatisfied)
    T3 2024-06-12 博鳌镇      consultation  直接办结, callback 基本满意                              (closed)
    T6 2024-06-12 琼海市      suggestion   → 住建局, signed, 督办 on 06-13                             (open, overdue)
    T4 2024-06-20 长流镇      help (web)   → 住建局                                                  (open, overdue)
    T5 2024-06-20 长流镇      consultation  不予受理 (12315)                                           (refused)
    T7 2024-06-20 长流镇      complaint    → 水务局, 退单 requested                                     (open, overdue)
    calls 2024-06-12: 5 reached a queue, 4 answered, 1 abandoned

so, by hand: June 受理量 7, 2024-06-12 受理量 4; 满意率 2/3 = 66.7%; 接通率 4/5 = 80.0%; 琼海市 4, 海口市 3;
嘉积镇 2 of which 金海岸社区 1; open now 4, overdue 3, 退单 1, 督办 1; 水务局 满意率 1/2 = 50.0%.
Every figure the page shows is also checked against what the API returns for the same query.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import httpx
import openpyxl
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import create_user
from agent_desk.db import models as m
from agent_desk.settings import PROVINCE_TZ
from agent_desk.tickets import service
from tests.support.desk import principal
from tests.browser.conftest import PASSWORD
from tests.browser.test_desk_ui import assert_clean

JUNE_12, JUNE_20 = dt.date(2024, 6, 12), dt.date(2024, 6, 20)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=PROVINCE_TZ)


def pct(metric: dict | None) -> str:
    return "—" if not metric or metric["rate"] is None else f"{metric['rate'] * 100:.1f}%"


@dataclass
class Dataset:
    numbers: dict[str, str] = field(default_factory=dict)   # T1.. → ticket number
    places: dict[str, str] = field(default_factory=dict)    # short → org code




@pytest.fixture(scope="module")
def dataset(desk) -> Dataset:
    data = Dataset()
    with desk.db.session() as session:
        province = session.scalar(select(m.OrgUnit).where(m.OrgUnit.code == f"{desk.tag}-prov"))

        def place(short, code, name, kind, level, parent, subplatform):
            unit = m.OrgUnit(code=code, name=name, kind=kind, level=level, parent_id=parent.id, subplatform=subplatform)
            session.add(unit)
            session.flush()
            data.places[short] = code
            return unit

        qionghai = place("qionghai", "469002", "琼海市", "subplatform", "county", province, "469002")
        haikou = place("haikou", "460100", "海口市", "subplatform", "city", province, "460100")
        jiaji = place("jiaji", f"{desk.tag}-jiaji", "嘉积镇", "town", "town", qionghai, "469002")
        place("jinhaian", f"{desk.tag}-jinhaian", "金海岸社区", "village", "town", jiaji, "469002")
        place("boao", f"{desk.tag}-boao", "博鳌镇", "town", "town", qionghai, "469002")
        place("changliu", f"{desk.tag}-changliu", "长流镇", "town", "town", haikou, "460100")
        create_user(session, f"{desk.tag}-housing", PASSWORD, Role.UNIT, display_name="测试housing",
                    unit_code=desk.units["housing"])
        create_user(session, f"{desk.tag}-admin", PASSWORD, Role.ADMIN, display_name="测试admin")
        session.flush()
        agent, boss = principal(session, desk.users["agent"]), principal(session, desk.users["boss"])
        water, housing = principal(session, desk.users["water"]), principal(session, f"{desk.tag}-housing")

        def ticket(name, when, place_short, subplatform, appeal, line="12345", channel="phone"):
            draft = service.TicketDraft(
                channel=channel, source_line=line if channel == "phone" else None, citizen_name="测试市民",
                citizen_phone=f"1380000{len(data.numbers):04d}", title=f"测试工单{name}", content=f"{name}的诉求内容",
                appeal_type=appeal, topic="03-water", location_unit=data.places.get(place_short),
                subplatform=subplatform)
            number = service.create(session, agent, draft, now=when).ticket.number
            data.numbers[name] = number
            return number

        def act(who, number, action, when, **payload):
            service.act(session, who, desk.settings, number, action, payload, now=when)

        def handled(number, start, result, solved):
            act(agent, number, "dispatch", start + dt.timedelta(minutes=5), host_unit=desk.units["water"])
            act(water, number, "sign", start + dt.timedelta(hours=1))
            act(water, number, "reply", start + dt.timedelta(hours=3), content="已处理。")
            act(boss, number, "approve_reply", start + dt.timedelta(hours=4))
            act(agent, number, "callback", start + dt.timedelta(hours=5), result=result, solved=solved)

        handled(ticket("T1", at(JUNE_12, 9), "jinhaian", "469002", "complaint"), at(JUNE_12, 9), "satisfied", True)
        handled(ticket("T2", at(JUNE_12, 10), "jiaji", "469002", "complaint"), at(JUNE_12, 10), "unsatisfied", False)
        t3 = ticket("T3", at(JUNE_12, 11), "boao", "469002", "consultation")
        act(agent, t3, "resolve_directly", at(JUNE_12, 11, 5), answer="按政策答复。")
        act(agent, t3, "callback", at(JUNE_12, 15), result="basically_satisfied", solved=True)
        t6 = ticket("T6", at(JUNE_12, 14), None, "469002", "suggestion")
        act(agent, t6, "dispatch", at(JUNE_12, 14, 5), host_unit=desk.units["housing"])
        act(housing, t6, "sign", at(JUNE_12, 16))
        act(boss, t6, "supervise", at(JUNE_12 + dt.timedelta(days=1), 9), note="请加快办理")
        t4 = ticket("T4", at(JUNE_20, 9), "changliu", "460100", "help", channel="web")
        act(agent, t4, "dispatch", at(JUNE_20, 9, 5), host_unit=desk.units["housing"])
        t5 = ticket("T5", at(JUNE_20, 10), "changliu", "460100", "consultation", line="12315")
        act(agent, t5, "refuse", at(JUNE_20, 10, 5), reason="litigation", explanation="请通过诉讼途径解决")
        t7 = ticket("T7", at(JUNE_20, 11), "changliu", "460100", "complaint")
        act(agent, t7, "dispatch", at(JUNE_20, 11, 5), host_unit=desk.units["water"])
        act(water, t7, "request_return", at(JUNE_20, 15), reason="不属于本单位职责", legal_basis="《城市供水条例》")

        for i in range(5):   # the call tracker's rows: queued, 4 answered after 10 s for 3 min, 1 abandoned
            queued = at(JUNE_12, 9, i * 10)
            answered = queued + dt.timedelta(seconds=10) if i < 4 else None
            session.add(m.Call(call_id=f"{desk.tag}-views-{i}", line="12345", line_class="main",
                               caller=f"1390000{i:04d}", subplatform="469002", queue="hotline-469002",
                               started_at=queued - dt.timedelta(seconds=30), queued_at=queued, answered_at=answered,
                               ended_at=((answered + dt.timedelta(minutes=3)) if answered
                                         else queued + dt.timedelta(seconds=40)),
                               outcome="answered" if answered else "abandoned"))
    return data


@pytest.fixture
def api(desk):
    with httpx.Client(base_url=desk.url, timeout=30) as http:
        token = http.post("/api/v1/auth/login",
                          json={"username": desk.users["boss"], "password": PASSWORD}).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"

        def get(path: str, **params) -> dict:
            response = http.get(path, params=params)
            assert response.status_code == 200, response.text
            return response.json()

        yield get


def sign_in(page, username: str, next_page: str) -> None:
    page.goto(f"/?next={next_page}")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(re.escape(next_page)))


def figure(page, container: str, key: str):
    return page.locator(f"{container} .figure[data-key='{key}'] .figure-value")


def gauge_text(page, container: str, metric: str):
    return page.locator(f"{container} .gauge-box[data-metric='{metric}'] text.chart-big")


def table_rows(page, selector: str) -> list[list[str]]:
    return [[cell.strip() for cell in row] for row in
            page.locator(f"{selector} tbody tr").evaluate_all(
                "rows => rows.map(r => [...r.cells].map(c => c.textContent))")]


def check_overview(page, api_data: dict) -> None:
    totals = api_data["totals"]
    for key in ("accepted", "direct", "dispatched", "refused", "offered"):
        expect(figure(page, "#ov-figures", key)).to_have_text(f"{totals[key]:,}")
    for metric in ("response", "completion", "on_time", "satisfaction", "answer"):
        expect(gauge_text(page, "#ov-gauges", metric)).to_have_text(pct(totals["metrics"][metric]))
    expect(page.locator("#ov-area-table tbody tr")).to_have_count(len(api_data["by_area"]))
    assert table_rows(page, "#ov-area-table") == [[a["name"], f"{a['value']:,}"] for a in api_data["by_area"]]
    trend = api_data["trend"]
    expect(page.locator("#ov-trend svg circle")).to_have_count(3 * len(trend["labels"]))
    legend = page.locator("#ov-appeal .chart-legend li")
    expect(legend).to_have_text([f"{i['name']} {i['value']}" for i in api_data["by_appeal_type"]])


def test_the_three_views_show_what_the_api_computes(page, desk, dataset, api, artifacts):
    page.clock.install()   # the page's 60 s refresh runs on a clock the test moves
    sign_in(page, desk.users["boss"], "/views.html")
    expect(page.get_by_role("link", name="观管评", exact=True)).to_have_attribute("aria-current", "page")
    # This month (today) has no data: counts are 0 and rates without a denominator are "—", never 0%.
    expect(figure(page, "#ov-figures", "accepted")).to_have_text("0")
    expect(gauge_text(page, "#ov-gauges", "satisfaction")).to_have_text("—")

    # ── 观, June 2024 (the date picker; the period stays 月) ──
    page.get_by_label("日期", exact=True).fill("2024-06-12")
    expect(page.locator("#period-label")).to_have_text("2024年6月")
    june = api("/api/v1/views/overview", period="month", date="2024-06-12")
    assert june["totals"]["accepted"] == 7 and pct(june["totals"]["metrics"]["satisfaction"]) == "66.7%"
    check_overview(page, june)
    expect(figure(page, "#ov-figures", "accepted")).to_have_text("7")        # by hand
    expect(gauge_text(page, "#ov-gauges", "satisfaction")).to_have_text("66.7%")
    expect(gauge_text(page, "#ov-gauges", "answer")).to_have_text("80.0%")
    expect(page.locator("#ov-gauges [data-metric='satisfaction'] .gauge-ratio")).to_have_text("2 / 3")
    assert table_rows(page, "#ov-area-table") == [["琼海市", "4"], ["海口市", "3"]]
    page.screenshot(path=str(artifacts / "views-overview.png"), full_page=True)

    # ── drill down: 琼海市 → 嘉积镇 (towns and their villages), then back up with the breadcrumb ──
    page.get_by_role("button", name="下钻：琼海市").click()
    expect(page.locator("#crumbs li")).to_have_text(["全省", "›琼海市"])
    assert "parent=469002" in page.url
    qionghai = api("/api/v1/views/overview", period="month", date="2024-06-12", parent="469002")
    expect(page.locator("#ov-area-table tbody tr")).to_have_count(len(qionghai["by_area"]))
    shown = table_rows(page, "#ov-area-table")
    assert shown == [[a["name"], f"{a['value']:,}"] for a in qionghai["by_area"]]
    assert ["嘉积镇", "2"] in shown and ["博鳌镇", "1"] in shown
    page.get_by_role("button", name="下钻：嘉积镇").click()
    expect(page.locator("#crumbs li")).to_have_text(["全省", "›琼海市", "›嘉积镇"])
    jinhaian = dataset.places["jinhaian"]
    expect(page.locator(f"#ov-area-table tbody tr[data-key='{jinhaian}']")).to_contain_text("金海岸社区1")
    page.screenshot(path=str(artifacts / "views-overview-drilldown.png"), full_page=True)
    page.locator("#crumbs").get_by_role("link", name="琼海市").click()
    expect(page.locator("#crumbs li")).to_have_text(["全省", "›琼海市"])
    expect(page.get_by_role("button", name="下钻：嘉积镇")).to_be_visible()
    page.locator("#crumbs").get_by_role("link", name="全省").click()
    expect(page.locator("#crumbs li")).to_have_text(["全省"])
    expect(page.get_by_role("button", name="下钻：海口市")).to_be_visible()

    # ── switch period: 日 (2024-06-12) then 年 ──
    page.get_by_role("radio", name="日", exact=True).check()
    expect(page.locator("#period-label")).to_have_text("2024年6月12日")
    day = api("/api/v1/views/overview", period="day", date="2024-06-12")
    check_overview(page, day)
    expect(figure(page, "#ov-figures", "accepted")).to_have_text("4")         # T4, T5, T7 came on the 20th
    page.get_by_role("radio", name="年", exact=True).check()
    expect(page.locator("#period-label")).to_have_text("2024年")
    check_overview(page, api("/api/v1/views/overview", period="year", date="2024-06-12"))

    # ── the big screen refreshes itself 60 s after its last load ──
    asked = lambda: sum(1 for r in page.watch.responses if "/api/v1/views/overview?period=year" in r[2])  # noqa: E731
    before = asked()
    page.clock.run_for(58_000)
    page.wait_for_timeout(300)
    assert asked() == before
    with page.expect_response(lambda r: "/api/v1/views/overview?period=year" in r.url):
        page.clock.run_for(3_000)
    assert asked() == before + 1

    # ── 管 ──
    page.get_by_role("tab", name="管 · 过程").click()
    process = api("/api/v1/views/process", period="year", date="2024-06-12")
    for key in ("open", "overdue", "due_soon", "returns", "supervisions"):
        expect(figure(page, "#pr-figures", key)).to_have_text(f"{process[key]:,}")
    expect(figure(page, "#pr-figures", "overdue")).to_have_text("3")         # by hand: T4, T6, T7
    expect(figure(page, "#pr-figures", "returns")).to_have_text("1")
    expect(figure(page, "#pr-figures", "supervisions")).to_have_text("1")
    expect(page.locator("#pr-overdue tbody tr")).to_have_count(len(process["overdue_tickets"]))
    overdue_numbers = page.locator("#pr-overdue tbody tr").evaluate_all("rows => rows.map(r => r.dataset.number)")
    assert overdue_numbers == [t["number"] for t in process["overdue_tickets"]]
    assert sorted(overdue_numbers) == sorted(dataset.numbers[t] for t in ("T4", "T6", "T7"))
    expect(page.locator("#pr-units tbody tr")).to_have_count(len(process["by_unit"]))
    assert table_rows(page, "#pr-units") == [[u["name"], str(u["open"]), str(u["overdue"]), str(u["returns"])]
                                             for u in process["by_unit"]]
    water = page.locator(f"#pr-units tbody tr[data-key='{desk.units['water']}']")
    expect(water).to_have_text(re.compile(r"琼海市水务局\s*2\s*1\s*1"))   # T2 open (unsatisfied), T7 overdue + 退单
    page.screenshot(path=str(artifacts / "views-process.png"), full_page=True)

    # ── 评, by unit then by area (every unit ranked: minimum volume 1) ──
    page.get_by_role("tab", name="评 · 评价").click()
    page.get_by_label("参与排名最低工单量").fill("1")
    page.get_by_label("参与排名最低工单量").dispatch_event("change")
    evaluation = api("/api/v1/views/evaluation", period="year", date="2024-06-12", by="unit", min_volume=1)
    expect(page.locator("#ev-rows tbody tr")).to_have_count(len(evaluation["rows"]))
    satisfaction = page.locator(f"#ev-rows tbody tr[data-key='{desk.units['water']}'] td[data-metric='satisfaction']")
    expect(satisfaction).to_have_text("50.0%")
    for row in evaluation["rows"]:
        shown = page.locator(f"#ev-rows tbody tr[data-key='{row['key']}']")
        expect(shown.locator("td").nth(1)).to_have_text(row["name"])
        expect(shown.locator("td").nth(2)).to_have_text(f"{row['volume']:,}")
        for metric in ("satisfaction", "on_time", "response"):
            expect(shown.locator(f"td[data-metric='{metric}']")).to_have_text(pct(row["metrics"][metric]))
    ranking = evaluation["rankings"]["satisfaction"]
    expect(page.locator("#ev-ranking svg rect")).to_have_count(len(ranking))
    expect(page.locator("#ev-ranking svg text.chart-label")).to_have_text(
        [f"{r['rank']}. {r['name']}" for r in ranking])
    for metric, value in evaluation["totals"]["metrics"].items():
        if value is not None and "rate" in value:   # the rates; the durations (aht, wait, to_queue) are not gauges
            expect(gauge_text(page, "#ev-gauges", metric)).to_have_text(pct(value))
    page.screenshot(path=str(artifacts / "views-evaluation.png"), full_page=True)

    page.get_by_label("按区域").check()
    by_area = api("/api/v1/views/evaluation", period="year", date="2024-06-12", by="area", min_volume=1)
    expect(page.locator("#ev-rows thead")).to_contain_text("区域")
    expect(page.locator("#ev-rows tbody tr")).to_have_count(len(by_area["rows"]))
    expect(page.locator("#ev-rows tbody tr[data-key='469002'] td[data-metric='satisfaction']")).to_have_text("66.7%")
    assert [r["key"] for r in by_area["rows"]] == page.locator("#ev-rows tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.key)")
    page.get_by_role("button", name="下钻：琼海市").click()
    expect(page.locator("#crumbs li")).to_have_text(["全省", "›琼海市"])
    towns = api("/api/v1/views/evaluation", period="year", date="2024-06-12", by="area", min_volume=1, parent="469002")
    expect(page.locator("#ev-rows tbody tr")).to_have_count(len(towns["rows"]))
    expect(page.locator("#ev-rows tbody")).to_contain_text("嘉积镇")
    page.screenshot(path=str(artifacts / "views-evaluation-area.png"), full_page=True)

    # The browser's back button walks back up (the state is in the URL).
    page.go_back()
    expect(page.locator("#crumbs li")).to_have_text(["全省"])
    assert_clean(page)


def shown(value, fmt: str) -> str:
    """A report value as the page shows it (the section's format)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if fmt == "rate":
            return f"{value * 100:.2f}%"
        if fmt == "seconds":
            return f"{value:.1f}"
        if isinstance(value, int):
            return f"{value:,}"
    return str(value)


def check_report(page, report: dict) -> None:
    expect(page.locator("#report-title")).to_have_text(report["title"])
    expect(page.locator("#report-period")).to_have_text(report["period"]["label"])
    sections = page.locator("#report-sections > section")
    expect(sections.locator("h3")).to_have_text([s["title"] for s in report["sections"]])
    for i, section in enumerate(report["sections"]):
        if section["kind"] == "figures":
            tiles = sections.nth(i).locator(".figure")
            expect(tiles.locator("dt")).to_have_text([row[0] for row in section["rows"]])
            expect(tiles.locator("dd")).to_have_text([shown(row[1], fmt) for row, fmt in
                                                      zip(section["rows"], section["formats"])])
        else:
            expect(sections.nth(i).locator("thead th")).to_have_text(section["columns"])
            rows = [[shown(v, f) for v, f in zip(row, section["formats"])] for row in section["rows"]]
            assert table_rows(page, f"#report-sections > section[data-index='{i}'] table") == (rows or [["暂无数据"]])
    expect(page.locator("#report-charts figure figcaption")).to_have_text([c["title"] for c in report["charts"]])


def test_the_report_page_renders_prints_and_downloads(page, desk, dataset, api, artifacts):
    sign_in(page, desk.users["boss"], "/report.html")
    expect(page.get_by_role("link", name="报表", exact=True)).to_have_attribute("aria-current", "page")
    page.get_by_label("报表类型").select_option("monthly")
    page.get_by_label("日期", exact=True).fill("2024-06-12")
    page.get_by_role("button", name="生成报表").click()
    report = api("/api/v1/reports/monthly", date="2024-06-12")
    check_report(page, report)
    figures = page.locator("#report-sections .report-figures")
    expect(figures.locator(".figure[data-name='受理量'] dd")).to_have_text("7")          # by hand
    expect(figures.locator(".figure[data-name='满意率'] dd")).to_have_text("66.67%")
    expect(figures.locator(".figure[data-name='接通率'] dd")).to_have_text("80.00%")
    expect(page.locator("#report-charts svg.chart")).to_have_count(len(report["charts"]))
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)

    # 下载 Excel: through the page's own link, opened with openpyxl: one sheet per section.
    with page.expect_download() as download:
        page.get_by_role("link", name="下载 Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    saved = artifacts / "report-monthly.xlsx"
    download.value.save_as(saved)
    workbook = openpyxl.load_workbook(saved)
    assert len(workbook.worksheets) == len(report["sections"])
    for sheet, section in zip(workbook.worksheets, report["sections"]):
        values = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert values[0] == section["columns"], sheet.title
        assert len(values) == len(section["rows"]) + 1, sheet.title
    main = {row[0]: row[1] for row in workbook.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert main["受理量"] == 7 and abs(main["满意率"] - 2 / 3) < 1e-6
    csv_link = page.get_by_role("link", name="下载 CSV")
    expect(csv_link).to_have_attribute("href", "/api/v1/reports/monthly?date=2024-06-12&format=csv")

    # Print: no navigation, no form, no buttons; the report itself stays.
    page.emulate_media(media="print")
    expect(page.locator("#topbar")).to_be_hidden()
    expect(page.locator(".report-controls")).to_be_hidden()
    expect(page.get_by_role("button", name="打印")).to_be_hidden()
    expect(page.locator("#report-title")).to_be_visible()
    expect(page.locator("#report-sections table").first).to_be_visible()
    page.screenshot(path=str(artifacts / "report-print.png"), full_page=True)
    page.emulate_media(media="screen")
    expect(page.get_by_role("button", name="打印")).to_be_visible()

    # 专报: a date range and a keyword (only T7's title has it).
    page.get_by_label("报表类型").select_option("special")
    page.get_by_label("起始日期").fill("2024-06-01")
    page.get_by_label("截止日期").fill("2024-06-30")
    expect(page.locator("#r-area option")).to_have_text(["全省", "琼海市", "海口市"])   # areas from /api/v1/kpi
    page.get_by_label("关键词").fill("工单T7")
    page.get_by_role("button", name="生成报表").click()
    special = api("/api/v1/reports/special", start="2024-06-01", end="2024-06-30", keyword="工单T7")
    check_report(page, special)
    expect(page.locator("#report-sections .figure[data-name='受理量'] dd")).to_have_text("1")
    assert "kind=special" in page.url and "keyword=" in page.url
    page.screenshot(path=str(artifacts / "report-special.png"), full_page=True)
    assert_clean(page)


def test_an_agent_is_told_the_views_are_not_for_them(page, desk, artifacts):
    sign_in(page, desk.users["agent2"], "/views.html")
    expect(page.locator("main .msg.error")).to_have_text("当前角色无权使用此页面。")
    page.goto("/report.html")
    expect(page.locator("main .msg.error")).to_have_text("当前角色无权使用此页面。")
    page.screenshot(path=str(artifacts / "views-forbidden.png"), full_page=True)
    # The pages asked the API for nothing but who is signed in, and the API would refuse anyway.
    assert not [r for r in page.watch.responses if "/api/v1/views/" in r[2] or "/api/v1/reports/" in r[2]]
    assert_clean(page)


def test_an_administrator_lands_on_user_management_and_reaches_the_views(page, desk, dataset):
    page.goto("/")
    page.get_by_label("用户名").fill(f"{desk.tag}-admin")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/users\.html"))   # an admin's home is 用户管理 (issue 19)
    expect(page.locator("#topbar nav a")).to_have_text(["用户管理", "观管评", "报表"])
    page.get_by_role("link", name="观管评").click()
    expect(page).to_have_url(re.compile(r"/views\.html"))
    expect(page.locator("#view-overview")).to_have_attribute("data-loaded", re.compile("view=overview"))
    page.goto("/views.html?view=process&period=year&date=2024-06-12")
    expect(page.get_by_role("tab", name="管 · 过程")).to_have_attribute("aria-selected", "true")
    expect(figure(page, "#pr-figures", "overdue")).to_have_text("3")
    assert_clean(page)
