"""日报 / 周报 / 月报 / 专报 over the hand-built March of test_kpi (its ``build_scenario``), as JSON, CSV and XLSX,
on SQLite and PostgreSQL: sections, figures, the file formats, the download name, who may ask, and the audit.
"""

from __future__ import annotations

import csv
import io
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from agent_desk.db.models import AuditEntry
from tests.component.test_kpi import scenario_fixture  # noqa: F401  (the same hand-built month, as ``scenario``)

SECTIONS = ["主要指标", "按诉求类型", "按市县", "热点事项（前10）", "承办单位排名（按满意率，受理量不足10件不排名）",
            "超期单位（应办结而未按时办结）", "分热线话务", "回拨与回访", "回访情况（按承办单位）"]




def fetch(sc, url, who="boss"):
    response = sc.rig.call(who, "GET", url)
    assert response.status_code == 200, response.text
    return response


def figures(report: dict) -> dict:
    section = next(s for s in report["sections"] if s["kind"] == "figures")
    return dict(section["rows"])


def test_monthly_report_json(scenario):
    report = fetch(scenario, "/api/v1/reports/monthly?date=2026-03-15").json()
    assert report["title"] == "海南省12345热线月报（2026年3月）"
    assert report["period"]["label"] == "2026年3月"
    assert [s["title"] for s in report["sections"]] == SECTIONS + ["每日趋势"]
    got = figures(report)
    # the same month as test_kpi: 9 accepted, 1 direct, 6 dispatched; completion 5/8, on time 3/5,
    # satisfaction 2/4, effective 2/3; calls answered 2/4 (c6 hung up within 5 s: offered all the same)
    assert (got["受理量"], got["直接办结"], got["派单"], got["不予受理"]) == (9, 1, 6, 1)
    assert got["办结率"] == pytest.approx(5 / 8) and got["按时办结率"] == pytest.approx(3 / 5)
    assert got["满意率"] == pytest.approx(2 / 4) and got["实际参评满意率"] == pytest.approx(2 / 3)
    assert got["接通率"] == pytest.approx(2 / 4) and got["呼入量"] == 4
    # the GB/T 33358 figures: c1 within 15 s, c2 after 16 s; c6 a short abandon; c1 prefilled; waits 15 and
    # 16 s; from arrival to queue 15, 15, 7 s (c2's arrival unseen)
    assert got["服务水平（15秒内接通）"] == pytest.approx(1 / 4) and got["5秒内放弃率"] == pytest.approx(1 / 4)
    assert got["预填可用率"] == pytest.approx(1 / 2)
    assert got["平均等待时长（秒）"] == pytest.approx(15.5) and got["来电至入队平均时长（秒）"] == pytest.approx(12.3)
    by_title = {s["title"]: s for s in report["sections"]}
    types = {row[0]: row[1:3] for row in by_title["按诉求类型"]["rows"]}
    assert types == {"投诉举报": [5, pytest.approx(5 / 9)], "咨询": [2, pytest.approx(2 / 9)],
                     "意见建议": [2, pytest.approx(2 / 9)]}
    # overdue units (not rolled up): D1 due ontime, rejected, returned → 2 on time; W1 due late, done_early → 1
    late = {row[0]: row[1:4] for row in by_title["超期单位（应办结而未按时办结）"]["rows"]}
    assert late == {"琼海市水务局": [3, 2, 1], "嘉积镇": [2, 1, 1]}
    calls = by_title["分热线话务"]
    assert calls["columns"][2:] == ["呼入量", "接通量", "接通率", "服务水平（15秒内接通）", "放弃率", "预填可用率",
                                    "平均等待时长（秒）", "平均处理时长（秒）"]
    lines = {row[1]: row[2:] for row in calls["rows"]}
    assert lines == {"12345": [2, 2, 1.0, 0.5, 0.0, 0.5, 15.5, 150.0], "12318": [2, 0, 0.0, 0.0, 1.0, None, None, None]}
    trend = by_title["每日趋势"]["rows"]
    assert len(trend) == 31 and trend[0][:2] == ["3月1日", 2]
    assert {c["type"] for c in report["charts"]} == {"donut", "bars", "line", "stacked"}
    answered = next(c for c in report["charts"] if c["title"] == "来电接通情况")
    assert dict(zip(answered["labels"], answered["series"][0]["values"])) == {
        "15秒内接通": 1, "15秒后接通": 1, "5秒内放弃": 1, "其余放弃": 1, "其他未接通": 0}
    text = str(report)
    assert "13800138000" not in text and "王小明" not in text  # no citizen's data in a report


def test_daily_and_weekly(scenario):
    daily = fetch(scenario, "/api/v1/reports/daily?date=2026-03-16").json()
    assert daily["title"] == "海南省12345热线日报（2026年3月16日）"
    assert figures(daily)["受理量"] == 1  # rejected was taken on 03-16
    assert "每日趋势" not in [s["title"] for s in daily["sections"]]
    weekly = fetch(scenario, "/api/v1/reports/weekly?date=2026-03-18").json()
    assert weekly["title"] == "海南省12345热线周报（2026年第12周）"
    assert weekly["period"]["start"] == "2026-03-16" and weekly["period"]["end"] == "2026-03-22"
    trend = next(s for s in weekly["sections"] if s["title"] == "每日趋势")["rows"]
    assert [r[0] for r in trend] == [f"3月{d}日" for d in range(16, 23)] and trend[0][1] == 1


def test_special_reports_filter(scenario):
    base = "/api/v1/reports/special?start=2026-03-01&end=2026-03-31"
    town = fetch(scenario, f"{base}&area=469002-嘉积镇").json()
    assert town["title"] == "海南省12345热线专报·嘉积镇（2026年3月1日至2026年3月31日）"
    assert figures(town)["受理量"] == 2  # ontime and late were placed in 嘉积镇
    assert "分热线话务" not in [s["title"] for s in town["sections"]] and "接通率" not in figures(town)
    water = fetch(scenario, f"{base}&topic=03-water&keyword=自来水").json()
    assert figures(water)["受理量"] == 9 and "供水排水" in water["title"]
    none = fetch(scenario, f"{base}&keyword=无人机").json()
    assert figures(none)["受理量"] == 0 and figures(none)["满意率"] is None
    assert scenario.rig.call("boss", "GET", "/api/v1/reports/special?start=2026-03-01").status_code == 422
    assert scenario.rig.call("boss", "GET", "/api/v1/reports/monthly?topic=03-water").status_code == 422


def test_csv_has_a_bom_and_chinese_headers(scenario):
    response = fetch(scenario, "/api/v1/reports/monthly?date=2026-03-15&format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["海南省12345热线月报（2026年3月）"]
    assert ["指标", "数值"] in rows and ["受理量", "9"] in rows and ["办结率", "62.50%"] in rows
    assert ["诉求类型", "受理量", "占比", "办结率", "满意率"] in rows
    ranking = rows.index(["排名", "承办单位", "受理量", "响应率", "按时办结率", "满意率", "实际参评满意率"])
    assert rows[ranking + 1][0] == "—"  # below 10 tickets: listed, not ranked; a missing value reads "—"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    encoded = disposition.split("filename*=UTF-8''")[1]
    assert unquote(encoded) == "海南省12345热线月报（2026年3月）.csv"


def test_xlsx_one_sheet_per_section(scenario):
    response = fetch(scenario, "/api/v1/reports/monthly?date=2026-03-15&format=xlsx")
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert unquote(response.headers["content-disposition"].split("filename*=UTF-8''")[1]).endswith(
        "月报（2026年3月）.xlsx")
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["主要指标", "按诉求类型", "按市县", "热点事项", "承办单位排名", "超期单位", "分热线话务",
                               "回拨与回访", "回访情况", "每日趋势"]
    sheet = book["主要指标"]
    assert [c.value for c in sheet[1]] == ["指标", "数值"] and sheet["A1"].font.bold
    values = {row[0].value: row[1] for row in sheet.iter_rows(min_row=2)}
    assert values["受理量"].value == 9
    assert values["办结率"].value == pytest.approx(0.625) and values["办结率"].number_format == "0.00%"
    types = book["按诉求类型"]
    assert [c.value for c in types[1]] == ["诉求类型", "受理量", "占比", "办结率", "满意率"]
    assert types.column_dimensions["A"].width >= 8
    units = book["承办单位排名"]
    assert units["A2"].value == "—"  # no unit reaches 10 tickets: listed, not ranked


def test_who_may_generate_reports_and_the_audit(scenario):
    rig = scenario.rig
    url = "/api/v1/reports/daily?date=2026-03-16"
    assert rig.call("agent", "GET", url).status_code == 403
    assert rig.call("water", "GET", url).status_code == 403
    assert rig.client.get(url).status_code == 401
    for bad in ("/api/v1/reports/yearly", "/api/v1/reports/daily?date=2026-02-30", "/api/v1/reports/daily?format=pdf",
                "/api/v1/reports/special?start=2026-03-01&end=2027-06-01"):
        response = rig.call("boss", "GET", bad)
        assert response.status_code == 422, bad
        assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json()["message"]), bad
    with rig.app.state.db.session() as s:
        before = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "report"))
    assert rig.call("admin", "GET", url + "&format=xlsx").status_code == 200
    with rig.app.state.db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "report").order_by(AuditEntry.id)).all()
    assert len(rows) == before + 1
    assert (rows[-1].username, rows[-1].object_type, rows[-1].object_id) == (rig.user("admin"), "report", "daily")
    assert "xlsx" in rows[-1].detail and "2026年3月16日" in rows[-1].detail
