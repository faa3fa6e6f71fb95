"""办理时限: a ticket's deadline from its appeal type and urgency, counted in working time.

Defaults follow common provincial practice (咨询 1, 求助 3, 投诉举报 5, 意见建议 10 working days;
紧急 24 h, 特急 2 h); a site overrides them. Weekends and listed holidays do not count; listed
make-up working days (调休) do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

WORKING_DAYS = {"consultation": 1, "help": 3, "complaint": 5, "suggestion": 10, "other": 5}
URGENT_HOURS = {"urgent": 24, "very_urgent": 2}  # 紧急, 特急: clock hours, weekends included


@dataclass(frozen=True)
class Calendar:
    holidays: frozenset[dt.date] = frozenset()
    makeup_workdays: frozenset[dt.date] = frozenset()
    working_days: dict[str, int] = field(default_factory=lambda: dict(WORKING_DAYS))
    urgent_hours: dict[str, int] = field(default_factory=lambda: dict(URGENT_HOURS))

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """The same time of day ``days`` working days later (a start on a day off counts from the next one)."""
        current = start
        while not self.is_working_day(current.date()):
            current = (current + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        remaining = days
        while remaining > 0:
            current += dt.timedelta(days=1)
            if self.is_working_day(current.date()):
                remaining -= 1
        return current

    def deadline(self, start: dt.datetime, appeal_type: str, urgency: str = "normal") -> dt.datetime:
        if urgency in self.urgent_hours:
            return start + dt.timedelta(hours=self.urgent_hours[urgency])
        if urgency != "normal":
            raise ValueError(f"unknown urgency {urgency!r}")
        if appeal_type not in self.working_days:
            raise ValueError(f"unknown appeal type {appeal_type!r}")
        return self.add_working_days(start, self.working_days[appeal_type])
