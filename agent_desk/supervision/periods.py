"""Reporting periods in province time (``settings.PROVINCE_TZ``): a day, an ISO week, a month, a year, or a
custom range of whole days (inclusive, at most 366), with their Chinese labels ("2026年11月22日",
"2026年第47周", "2026年11月", "2026年") and the buckets a trend is drawn over (hours of a day, days of a
week or month or of a custom range up to 62 days, months otherwise).

A period is half-open in UTC: ``start_utc <= t < end_utc``, both local midnights, so a ticket taken at
23:59:59 local time on the last day is in, and one at 00:00:00 the next day is not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from agent_desk.errors import DeskError
from agent_desk.settings import PROVINCE_TZ

KINDS = ("day", "week", "month", "year", "custom")
KIND_LABELS = {"day": "日", "week": "周", "month": "月", "year": "年", "custom": "自定义"}
MAX_CUSTOM_DAYS = 366
DAILY_TREND_UP_TO = 62   # a custom range longer than this is drawn by month
# Days a query may name: the centre's records lie well inside, and the next day, week or month of either end
# still exists (9999-12-31 + 1 day would overflow into a 500).
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)
DAY_RANGE_MESSAGE = "日期须在2000年1月1日至2099年12月31日之间"
Day = Annotated[dt.date, Field(ge=FIRST_DAY, le=LAST_DAY, description="YYYY-MM-DD，2000-01-01 至 2099-12-31")]


def day_label(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class Period:
    kind: str
    start: dt.date   # first day
    end: dt.date     # last day (inclusive)

    @property
    def label(self) -> str:
        if self.kind == "day":
            return day_label(self.start)
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}年第{week}周"
        if self.kind == "month":
            return f"{self.start.year}年{self.start.month}月"
        if self.kind == "year":
            return f"{self.start.year}年"
        if self.start == self.end:
            return day_label(self.start)
        return f"{day_label(self.start)}至{day_label(self.end)}"

    @property
    def start_utc(self) -> dt.datetime:
        return local_midnight(self.start)

    @property
    def end_utc(self) -> dt.datetime:
        """Exclusive: local midnight after the last day."""
        return local_midnight(self.end + dt.timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "start": self.start.isoformat(), "end": self.end.isoformat(), "label": self.label}

    def buckets(self) -> list[tuple[str, dt.datetime]]:
        """(label, start) of each trend bucket in order; a bucket ends where the next one starts (the last at
        ``end_utc``)."""
        if self.kind == "day":
            return [(f"{h:02d}时", local_midnight(self.start) + dt.timedelta(hours=h)) for h in range(24)]
        if self.kind == "year" or (self.kind == "custom" and self.days > DAILY_TREND_UP_TO):
            out, month = [], self.start.replace(day=1)
            while month <= self.end:
                first = max(month, self.start)
                out.append((f"{month.year}年{month.month}月" if self.kind == "custom" else f"{month.month}月",
                            local_midnight(first)))
                month = _next_month(month)
            return out
        return [(f"{d.month}月{d.day}日", local_midnight(d))
                for d in (self.start + dt.timedelta(days=i) for i in range(self.days))]


def local_midnight(day: dt.date) -> dt.datetime:
    """Local midnight of ``day`` as an aware datetime in UTC (the form stored columns compare with)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=PROVINCE_TZ).astimezone(dt.UTC)


def today() -> dt.date:
    return dt.datetime.now(PROVINCE_TZ).date()


def _next_month(day: dt.date) -> dt.date:
    if day.month == 12:
        return day.replace(year=day.year + 1, month=1, day=1)
    return day.replace(month=day.month + 1, day=1)


def period_of(kind: str, day: dt.date | None = None, start: dt.date | None = None,
              end: dt.date | None = None) -> Period:
    """The period of ``kind`` containing ``day`` (default today, province time), or the custom range
    ``start``..``end``. DeskError 422 with a Chinese message for anything else."""
    if kind not in KINDS:
        raise DeskError(422, "invalid_period", "统计周期只能是 日、周、月、年 或 自定义（day/week/month/year/custom）")
    if any(d is not None and not FIRST_DAY <= d <= LAST_DAY for d in (day, start, end)):
        raise DeskError(422, "date_out_of_range", DAY_RANGE_MESSAGE)
    if kind == "custom":
        if start is None or end is None:
            raise DeskError(422, "custom_range_required", "自定义周期必须同时指定开始日期和结束日期")
        if end < start:
            raise DeskError(422, "invalid_range", "结束日期不能早于开始日期")
        if (end - start).days + 1 > MAX_CUSTOM_DAYS:
            raise DeskError(422, "range_too_long", f"自定义周期最长{MAX_CUSTOM_DAYS}天")
        return Period("custom", start, end)
    day = day or today()
    if kind == "day":
        return Period("day", day, day)
    if kind == "week":
        monday = day - dt.timedelta(days=day.weekday())
        return Period("week", monday, monday + dt.timedelta(days=6))
    if kind == "month":
        first = day.replace(day=1)
        return Period("month", first, _next_month(first) - dt.timedelta(days=1))
    return Period("year", day.replace(month=1, day=1), day.replace(month=12, day=31))
