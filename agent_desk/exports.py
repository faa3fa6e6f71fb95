"""What every CSV and XLSX export shares: a cell of free text never reaches a spreadsheet as a formula.

A value that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run by Excel, WPS and
LibreOffice as a formula (``=HYPERLINK(…)`` sends the reader's data elsewhere); such text gets a leading
apostrophe, which the spreadsheet shows as text (OWASP's advice). Numbers and ``None`` pass unchanged: an
XLSX keeps them numbers (the reports' counts and rates are never negative, so their CSV text needs nothing).
One helper for every exporter (audit log, reports): ``agent_desk.api.audit``, ``agent_desk.supervision.reports``.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from collections.abc import Iterable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, made inert with a leading apostrophe; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(rows: Iterable[Iterable[Any]]) -> bytes:
    """UTF-8 with a BOM (so Excel reads the Chinese right), CRLF lines, every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
