"""观管评 and 实时监控 as wall screens (issue 19, point 8), in a real Chromium against the real desk.

大屏 mode (``?wall=1``): at 1920×1080 each view (观, 管, 评, 实时监控) fits the screen with no page scroll, its type
is large; count axes step in whole numbers; buckets still to come are not drawn; a state has one colour (the
palette of charts.js) wherever it is shown; the figures side by side agree (热线分布 adds up to 受理渠道's 电话,
the 评 table's rows add up to the totals above it); an empty ranking says why; 排队中 is not red at 0; and the
map of the 19 市县 (a schematic tile map) colours the divisions and drills down on a click or a key.

Data: the supervisor views' June 2024 dataset (tests/browser/test_supervisor_views.py: 琼海市 4 tickets, 海口市 3),
and for 实时监控 a snapshot made by the real ``Wallboard`` from recorded AMI events. Screenshots at 1440×900 and
1920×1080 are kept under tests/artifacts/browser/.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import redis
from playwright.sync_api import expect

from agent_desk.settings import PROVINCE_TZ
from agent_desk.supervision.wallboard import SNAPSHOT_KEY, Wallboard
from hotline.numberplan import load_plan
from hotline.paths import PROJECT_ROOT
from tests.browser.test_desk_ui import assert_clean, reload
from tests.browser.test_supervisor_views import api, dataset, sign_in  # noqa: F401  (fixtures of that module)
from tests.support.wallboard import recorded, stamp
from tests.browser.conftest import settle

WALL = {"width": 1920, "height": 1080}
LAPTOP = {"width": 1440, "height": 900}
JUNE = "period=month&date=2024-06-12"
DIVISIONS = ["海口", "三亚", "三沙", "儋州", "五指山", "琼海", "文昌", "万宁", "东方", "定安", "屯昌", "澄迈", "临高",
             "白沙", "昌江", "乐东", "陵水", "保亭", "琼中"]


def no_scroll(page) -> tuple[int, int]:
    """(the page's height, the window's), after checking that no card is laid out below the screen's edge (the
    page itself clips nothing: wall.css sets no overflow on html or body, so a taller page would scroll)."""
    below = page.evaluate("""() => [...document.querySelectorAll('main .card, main .figure, main .wb-tile')]
        .filter((n) => n.offsetParent !== null && n.getBoundingClientRect().bottom > window.innerHeight + 1)
        .map((n) => (n.dataset.card || n.dataset.key || n.dataset.tile || n.id || n.className))""")
    assert below == [], below
    return page.evaluate("[document.documentElement.scrollHeight, window.innerHeight]")


def loaded(page, view: str):
    expect(page.locator(f"#view-{view}")).to_have_attribute("data-loaded", re.compile(f"view={view}"))
    settle(page)


def palette(page) -> dict:
    return page.evaluate("import('/charts.js').then((m) => JSON.parse(JSON.stringify(m.STATE_TONES)))")


def to_rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture
def board(desk, redis_server):
    """A live snapshot in the desk's Redis: one call answered and done, the agent paused, a second call waiting."""
    client = redis.Redis.from_url(redis_server.url, password=redis_server.password, decode_responses=True)
    wallboard = Wallboard.from_plan(load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml"))
    events = recorded()
    joins = [i for i, e in enumerate(events) if e.name == "QueueCallerJoin"]

    def publish(until: int) -> dict:
        for event in events[:until + 1]:
            wallboard.apply(event)
        wallboard.set_connected(True)
        snapshot = wallboard.snapshot(stamp(events[until]) + 3)
        client.set(SNAPSHOT_KEY, json.dumps(snapshot, ensure_ascii=False))   # what a (re)connecting page is sent
        return snapshot

    try:
        yield publish(joins[1]), client
    finally:
        client.delete(SNAPSHOT_KEY)
        client.close()


def test_each_view_fits_a_1920_wall_without_scrolling(page, desk, dataset, board, artifacts):  # noqa: F811
    page.set_viewport_size(WALL)
    sign_in(page, desk.users["boss"], "/views.html")
    loaded(page, "overview")   # signed in and settled before the next page
    for view in ("overview", "process", "evaluation"):
        page.goto(f"/views.html?view={view}&{JUNE}&wall=1")
        loaded(page, view)
        expect(page.locator("html")).to_have_class(re.compile(r"\bwall\b"))
        height, inner = no_scroll(page)
        assert height <= inner, (view, height, inner)
        page.screenshot(path=str(artifacts / f"wall-{view}-1920x1080.png"))
        # Readable across the room: the charts are drawn at their shown size, so the bar and axis labels keep
        # their CSS size (≥ 16 px) instead of shrinking with the viewBox (they were ~9 px).
        smallest = page.evaluate("""() => Math.min(...[...document.querySelectorAll(
            '.view:not([hidden]) svg.chart.fit text.chart-label, .view:not([hidden]) svg.chart.fit text.chart-axis')]
            .map((t) => t.getBoundingClientRect().height).filter((h) => h > 0))""")
        assert smallest >= 15, (view, smallest)
        page.set_viewport_size(LAPTOP)
        page.wait_for_timeout(400)   # the page redraws its charts at the new size
        page.screenshot(path=str(artifacts / f"wall-{view}-1440x900.png"))
        page.set_viewport_size(WALL)
    # The ordinary (scrolling) page offers the 大屏 mode and comes back from it.
    page.goto(f"/views.html?view=overview&{JUNE}")
    loaded(page, "overview")
    expect(page.locator("#wall-toggle")).to_have_text("大屏模式")
    page.locator("#wall-toggle").click()
    expect(page).to_have_url(re.compile(r"wall=1"))
    expect(page.locator("#wall-toggle")).to_have_text("退出大屏")
    loaded(page, "overview")
    page.screenshot(path=str(artifacts / "views-overview-1920x1080-wall.png"))
    page.set_viewport_size(LAPTOP)
    page.goto(f"/views.html?view=overview&{JUNE}")
    loaded(page, "overview")
    page.screenshot(path=str(artifacts / "views-overview-1440x900.png"), full_page=True)
    assert_clean(page)


def test_the_live_board_fits_the_wall_and_waiting_is_red_only_when_someone_waits(page, desk, board, artifacts):
    snapshot, client = board
    assert snapshot["totals"]["waiting"] == 1
    page.set_viewport_size(WALL)
    sign_in(page, desk.users["boss"], "/views.html")
    loaded(page, "overview")   # signed in and settled before the next page
    page.goto("/wallboard.html?wall=1")
    expect(page.locator("#t-waiting")).to_have_text("1")
    expect(page.locator("#std-tiles [data-tile='answer']")).to_be_visible()
    settle(page)
    height, inner = no_scroll(page)
    assert height <= inner, (height, inner)
    red = to_rgb("#ff5630")
    waiting = page.locator("[data-tile='waiting'] .wb-tile-value")
    assert waiting.evaluate("(n) => getComputedStyle(n).color") == red   # someone waits: alert colour
    page.screenshot(path=str(artifacts / "wall-wallboard-1920x1080.png"))

    # The caller hangs up: 0 waiting is not an alarm.
    wallboard = Wallboard.from_plan(load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml"))
    events = recorded()
    for event in events:
        wallboard.apply(event)
        if event.name == "QueueCallerAbandon":
            break
    wallboard.set_connected(True)
    message = json.dumps(wallboard.snapshot(stamp(event)), ensure_ascii=False)
    client.set(SNAPSHOT_KEY, message)
    reload(page)
    expect(page.locator("#t-waiting")).to_have_text("0")
    assert waiting.evaluate("(n) => getComputedStyle(n).color") != red
    assert page.locator("[data-tile='longest'] .wb-tile-value").evaluate("(n) => getComputedStyle(n).color") != red
    page.set_viewport_size(LAPTOP)
    page.wait_for_timeout(400)
    page.screenshot(path=str(artifacts / "wall-wallboard-1440x900.png"))
    page.goto("/wallboard.html")
    expect(page.locator("#t-waiting")).to_have_text("0")
    expect(page.locator("body")).to_have_class(re.compile("bigscreen"))   # dark without 大屏 mode too
    page.screenshot(path=str(artifacts / "wallboard-1440x900.png"), full_page=True)
    assert_clean(page)


def test_count_axes_step_in_whole_numbers(page, desk, dataset):  # noqa: F811
    page.set_viewport_size(WALL)
    sign_in(page, desk.users["boss"], "/views.html")
    loaded(page, "overview")   # signed in and settled before the next page
    # The "nice numbers" rule itself (1, 2 or 5 × 10^k; never below 1 for counts).
    cases = page.evaluate("""import('/charts.js').then((m) => [
        m.niceScale(19, 4, true).ticks, m.niceScale(3, 4, true).ticks, m.niceScale(0, 4, true).ticks,
        m.niceScale(7, 4, true).ticks, m.niceScale(1, 4, false).ticks, m.niceScale(4.75, 4, false).ticks,
        m.niceScale(1234, 5, true).ticks])""")
    assert cases == [[0, 5, 10, 15, 20], [0, 1, 2, 3], [0, 1], [0, 2, 4, 6, 8], [0, 0.2, 0.4, 0.6, 0.8, 1],
                     [0, 1, 2, 3, 4, 5], [0, 500, 1000, 1500]]
    for wall in ("&wall=1", ""):
        for period in ("period=day&date=2024-06-12", JUNE, "period=year&date=2024-06-12"):
            page.goto(f"/views.html?view=overview&{period}{wall}")
            loaded(page, "overview")
            ticks = page.locator("#ov-trend text.chart-tick").all_text_contents()
            assert len(ticks) >= 2, ticks
            values = [int(t.replace(",", "")) for t in ticks]   # int() fails on 4.75, 9.5 …
            steps = {b - a for a, b in zip(values, values[1:])}
            assert len(steps) == 1 and values[0] == 0, ticks
            step = steps.pop()
            assert step >= 1 and re.fullmatch(r"[125]0*", str(step)), ticks


def test_days_still_to_come_are_not_drawn(page, desk, dataset):  # noqa: F811
    page.set_viewport_size(WALL)
    sign_in(page, desk.users["boss"], "/views.html")
    loaded(page, "overview")   # signed in and settled before the next page
    now = dt.datetime.now(PROVINCE_TZ)
    for period, drawn in (("month", now.day), ("year", now.month), ("day", now.hour + 1)):
        page.goto(f"/views.html?view=overview&period={period}&date={now.date().isoformat()}&wall=1")
        loaded(page, "overview")
        if dt.datetime.now(PROVINCE_TZ).date() != now.date():
            pytest.skip("the date turned during the test")
        indexes = page.locator("#ov-trend svg circle").evaluate_all("(dots) => dots.map((d) => +d.dataset.index)")
        labels = page.locator("#ov-trend text.chart-axis:not(.chart-tick)").count()
        assert labels > 0
        assert indexes and max(indexes) == drawn - 1, (period, max(indexes), drawn)   # nothing after today
        assert len(indexes) == 3 * drawn, (period, len(indexes))                     # every past bucket, 3 series
    # A past month is drawn whole.
    page.goto(f"/views.html?view=overview&{JUNE}&wall=1")
    loaded(page, "overview")
    expect(page.locator("#ov-trend svg circle")).to_have_count(3 * 30)


def test_a_state_has_one_colour_on_every_page(page, desk, dataset, board, api):  # noqa: F811
    page.set_viewport_size(WALL)
    sign_in(page, desk.users["boss"], "/views.html")
    loaded(page, "overview")   # signed in and settled before the next page
    page.goto("/views.html?view=process&period=year&date=2024-06-12&wall=1")
    loaded(page, "process")
    tones = palette(page)
    process = api("/api/v1/views/process", period="year", date="2024-06-12")
    legend = page.locator("#pr-state .chart-legend li").evaluate_all(
        "(items) => items.map((li) => [li.textContent.trim(), li.dataset.tone])")
    shown = {name.rsplit(" ", 1)[0]: colour for name, colour in legend}
    by_name = {s["name"]: s["key"] for s in process["by_state"]}
    assert set(shown) == set(by_name)
    for name, colour in shown.items():
        assert colour == tones["ticket"][by_name[name]], name
    assert len(set(shown.values())) == len(shown)                    # no two states alike
    assert len(set(tones["ticket"].values())) == len(tones["ticket"])
    assert len(set(tones["agent"].values())) == len(tones["agent"])

    page.goto("/wallboard.html?wall=1")
    expect(page.locator("#wb-agents li[data-state='paused']")).to_have_count(1)
    assert palette(page) == tones                                    # one palette, the same module on both pages
    legend = page.locator("#c-states .chart-legend li").evaluate_all("(items) => items.map((li) => li.dataset.tone)")
    assert len(legend) == len(tones["agent"]) and set(legend) == set(tones["agent"].values())
    # the paused agent's ring in the donut and the paused agent's card: the palette's paused colour
    expect(page.locator(f"#c-states svg [stroke='{tones['agent']['paused']}']")).to_have_count(1)
    card = page.locator("#wb-agents li[data-state='paused']")
    assert card.evaluate("(n) => getComputedStyle(n).backgroundColor") == to_rgb(tones["agent"]["paused"])
    assert_clean(page)


def test_the_map_shows_the_19_divisions_and_drills_down(page, desk, dataset, api, artifacts):  # noqa: F811
    page.set_viewport_size(WALL)
    sign_in(page, desk.users["boss"], "/views.html")
    loaded(page, "overview")   # signed in and settled before the next page
    page.goto(f"/views.html?view=overview&{JUNE}&wall=1")
    loaded(page, "overview")
    tiles = page.locator("#ov-map .map-tile")
    expect(tiles).to_have_count(19)
    assert sorted(tiles.evaluate_all("(ts) => ts.map((t) => t.dataset.name)")) == sorted(DIVISIONS)
    expect(page.locator("#ov-map svg.map")).to_contain_text("示意图")       # it says what it is
    assert page.locator("#ov-map .map-name").all_text_contents().count("海口") == 1
    # Coloured by 受理量 from the same area grouping as 区域分布: 琼海 4, 海口 3; the others had none.
    areas = {a["key"]: a["value"] for a in api("/api/v1/views/overview", period="month", date="2024-06-12")["by_area"]}
    qionghai, haikou = page.locator("#ov-map .map-tile[data-code='469002']"), page.locator(
        "#ov-map .map-tile[data-code='460100']")
    expect(qionghai.locator(".map-value")).to_have_text(str(areas["469002"]))
    expect(haikou.locator(".map-value")).to_have_text(str(areas["460100"]))
    assert qionghai.get_attribute("data-fill") != haikou.get_attribute("data-fill")
    sanya = page.locator("#ov-map .map-tile[data-code='460200']")
    expect(sanya.locator(".map-value")).to_have_text("—")
    assert sanya.get_attribute("role") is None                      # nothing to drill into
    page.screenshot(path=str(artifacts / "wall-map-1920x1080.png"))

    # Click 琼海: the whole 观 is 琼海's now (figures, areas), the tile stays marked, the crumbs say where we are.
    qionghai.click()
    expect(page.locator("#crumbs li")).to_have_text(["全省", "›琼海市"])
    assert "parent=469002" in page.url
    drilled = api("/api/v1/views/overview", period="month", date="2024-06-12", parent="469002")
    assert drilled["totals"]["accepted"] == 4
    expect(page.locator("#ov-figures .figure[data-key='accepted'] .figure-value")).to_have_text("4")
    expect(page.locator("#ov-map .map-tile[data-code='469002']")).to_have_class(re.compile("selected"))
    assert sum(i["value"] for i in drilled["by_appeal_type"]) == 4
    assert sum(trend for trend in drilled["trend"]["accepted"]) == 4
    # The keyboard drills too: 海口 by Enter.
    page.locator("#ov-map .map-tile[data-code='460100']").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#crumbs li")).to_have_text(["全省", "›海口市"])
    expect(page.locator("#ov-figures .figure[data-key='accepted'] .figure-value")).to_have_text("3")
    # Coloured by a rate instead.
    page.get_by_label("着色指标").select_option("completion")
    expect(page.locator("#ov-map .map-tile[data-code='469002'] .map-value")).to_have_text(re.compile(r"%$"))
    assert_clean(page)


def test_widgets_side_by_side_agree_and_empty_rankings_say_why(page, desk, dataset, api):  # noqa: F811
    june = api("/api/v1/views/overview", period="month", date="2024-06-12")
    channels = {c["key"]: c["value"] for c in june["by_channel"]}
    # 热线分布 counts the phone tickets by line: it adds up to 受理渠道's 电话 (T4 came by web: in neither as phone)
    assert sum(line["value"] for line in june["by_line"]) == channels["phone"] == 6
    assert all(line["name"] != "非电话渠道" for line in june["by_line"])
    # 评 by unit: the rows (with 未派单) add up to the totals, so 办结率 on top is the rows' 办结率.
    evaluation = api("/api/v1/views/evaluation", period="month", date="2024-06-12", by="unit", min_volume=1)
    rows = evaluation["rows"]
    assert any(r["key"] == "" and r["name"] == "未派单" and r["rank"] is None for r in rows)
    assert sum(r["accepted"] for r in rows) == evaluation["totals"]["accepted"] == june["totals"]["accepted"]
    for metric in ("completion", "satisfaction", "on_time"):
        num = sum(r["metrics"][metric]["num"] for r in rows)
        den = sum(r["metrics"][metric]["den"] for r in rows)
        total = evaluation["totals"]["metrics"][metric]
        assert (num, den) == (total["num"], total["den"]), metric
    assert evaluation["totals"]["metrics"]["completion"] == june["totals"]["metrics"]["completion"]
    # Drilled in, the totals are the parent's own.
    drilled = api("/api/v1/views/evaluation", period="month", date="2024-06-12", by="area", parent="469002",
                  min_volume=1)
    assert drilled["totals"]["accepted"] == sum(r["accepted"] for r in drilled["rows"]) == 4

    page.set_viewport_size(WALL)
    sign_in(page, desk.users["boss"], "/views.html")
    loaded(page, "overview")   # signed in and settled before the next page
    page.goto("/views.html?view=evaluation&period=month&date=2024-06-12&min=100&wall=1")
    loaded(page, "evaluation")
    expect(page.locator("#ev-ranking .chart-empty")).to_have_text(
        "各承办单位工单量均不足 100 件（参与排名最低工单量），暂不排名")
    page.goto("/views.html?view=evaluation&period=month&date=2023-01-15&wall=1")   # a month with no tickets
    loaded(page, "evaluation")
    expect(page.locator("#ev-ranking .chart-empty")).to_have_text("本期尚无工单")
    page.goto("/views.html?view=evaluation&period=day&date=2024-06-20&min=1&wall=1")   # tickets, no callbacks yet
    loaded(page, "evaluation")
    expect(page.locator("#ev-ranking .chart-empty")).to_have_text("本期尚无回访评价：工单办结并回访后才有满意率")
    page.goto("/views.html?view=overview&period=month&date=2023-01-15&wall=1")
    loaded(page, "overview")
    expect(page.locator("#ov-topics .chart-empty")).to_have_text("本期尚无受理工单")
    assert_clean(page)
