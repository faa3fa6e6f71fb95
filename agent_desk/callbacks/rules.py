"""The rules of callback tasks (未接来电回拨), as pure functions of the policy and an injected clock.

- **Target** (回拨时限): a task is due ``target_minutes`` of *callable* time after the first missed call; time in
  quiet hours does not count (a call missed at 20:50 with a 2-hour target and quiet hours 21:00–08:00 is due at
  09:50 the next morning).
- **Quiet hours** (免打扰时段): nobody is called then, neither by an agent's 回拨 nor by a campaign.
- **Retries**: a citizen who did not answer or was busy is tried again after increasing intervals, at most
  ``attempts`` times in all; then the task is given up (多次未接通), never marked reached.
- **What does not count as an attempt**: the trunk busy or down, the agent not answering their own phone, the
  agent cancelling before the citizen answered. The citizen was not reached and was not bothered either.
- **Numbers**: only a mainland number is called (mobile, landline with area code, local 7–8 digits); a foreign
  or malformed one is refused with its reason. The dialplan (``[hotline-outbound]``) checks the same again.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from hotline.site import Callbacks

PROVINCE_TZ = ZoneInfo("Asia/Shanghai")


class TaskState(StrEnum):
    OPEN = "open"            # 待回拨 (waiting, or waiting for its next attempt)
    DIALING = "dialing"      # 回拨中: an agent's call is ringing or connected
    CLOSED = "closed"        # 已完成: a final outcome is recorded
    GIVEN_UP = "given_up"    # 多次未接通: every attempt went unanswered or busy


class Outcome(StrEnum):
    # recorded by the agent after talking to the citizen (final)
    REACHED = "reached"
    RESOLVED = "resolved"
    TICKET_CREATED = "ticket_created"
    REFUSED = "refused"
    INVALID_NUMBER = "invalid_number"
    # recorded by the dialer
    CONNECTED = "connected"            # the citizen answered; the agent records the final outcome
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    TRUNK_BUSY = "trunk_busy"          # over the outbound channel limit, or the carrier congested / down
    AGENT_NO_ANSWER = "agent_no_answer"
    CANCELLED = "cancelled"            # the agent hung up before the citizen answered
    FAILED = "failed"                  # the phone system could not place the call
    # recorded by the call tracker
    CALLED_IN = "called_in"            # the citizen rang again and an agent answered
    # marked by an agent (its own action: the refusal is recorded in the opt-out store too)
    OPTED_OUT = "opted_out"            # 市民要求不再回拨: never dialled again, nor a task made for later missed calls


FINAL = frozenset({Outcome.REACHED, Outcome.RESOLVED, Outcome.TICKET_CREATED, Outcome.REFUSED,
                   Outcome.INVALID_NUMBER, Outcome.CALLED_IN, Outcome.OPTED_OUT})
AGENT_OUTCOMES = (Outcome.REACHED, Outcome.RESOLVED, Outcome.TICKET_CREATED, Outcome.REFUSED, Outcome.INVALID_NUMBER,
                  Outcome.NO_ANSWER, Outcome.BUSY)
CONSUMES_ATTEMPT = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.CONNECTED, Outcome.REACHED, Outcome.RESOLVED,
                              Outcome.TICKET_CREATED, Outcome.REFUSED})


@dataclass(frozen=True)
class CallbackPolicy:
    """The site's callback policy (``hotline.site.Callbacks``), in the desk's terms."""

    target_minutes: int = 120
    quiet_start: dt.time = dt.time(21, 0)
    quiet_end: dt.time = dt.time(8, 0)
    attempts: int = 3
    retry_minutes: tuple[int, ...] = (10, 30, 120)
    trunk_busy_retry_minutes: int = 2
    agent_ring_seconds: int = 30
    citizen_ring_seconds: int = 40
    center_number: str = "12345"
    outbound_channels: int = 4   # the carrier trunk's limit ([hotline-outbound] GROUP_COUNT): campaigns stay under it
    tz: ZoneInfo = field(default=PROVINCE_TZ)

    def __post_init__(self) -> None:
        if self.attempts < 1 or not self.retry_minutes or min(self.retry_minutes) < 1 or self.target_minutes < 1:
            raise ValueError("callbacks: attempts, retry_minutes and target_minutes must be positive")

    # ── quiet hours ──────────────────────────────────────────────────────────
    def is_quiet(self, at: dt.datetime) -> bool:
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return False
        t = at.astimezone(self.tz).time()
        return (start <= t < end) if start < end else (t >= start or t < end)

    def next_callable(self, at: dt.datetime) -> dt.datetime:
        """``at`` itself outside quiet hours, else the end of the quiet hours it is in."""
        if not self.is_quiet(at):
            return at
        return self._next_local(at, self.quiet_end)

    def _next_quiet_start(self, at: dt.datetime) -> dt.datetime:
        return self._next_local(at, self.quiet_start)

    def _next_local(self, at: dt.datetime, clock: dt.time) -> dt.datetime:
        """The first moment after ``at`` when the site's local clock reads ``clock`` (today or tomorrow), in UTC."""
        local = at.astimezone(self.tz)
        moment = local.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
        if moment <= local:
            moment = _next_day(moment, self.tz)
        return moment.astimezone(dt.UTC)

    # ── the clock ────────────────────────────────────────────────────────────
    def due_at(self, first_missed: dt.datetime) -> dt.datetime:
        """When the task is due: ``target_minutes`` of callable time after the first missed call."""
        remaining = dt.timedelta(minutes=self.target_minutes)
        current = self.next_callable(first_missed)
        if self.quiet_start == self.quiet_end:
            return current + remaining
        while True:
            window = self._next_quiet_start(current) - current
            if remaining <= window:
                return current + remaining
            remaining -= window
            current = self.next_callable(current + window)

    # ── retries ──────────────────────────────────────────────────────────────
    def next_attempt(self, outcome: Outcome, attempts_made: int, at: dt.datetime) -> dt.datetime | None:
        """When to call again after an attempt that ended with ``outcome`` (``attempts_made`` counts it when it
        consumes an attempt); None: no more attempts (the task is given up)."""
        if outcome in (Outcome.TRUNK_BUSY, Outcome.FAILED):
            return self.next_callable(at + dt.timedelta(minutes=self.trunk_busy_retry_minutes))
        if outcome not in CONSUMES_ATTEMPT:
            return self.next_callable(at)   # nobody was dialled: it may be called again at once
        if attempts_made >= self.attempts:
            return None
        pause = self.retry_minutes[min(attempts_made, len(self.retry_minutes)) - 1]
        return self.next_callable(at + dt.timedelta(minutes=pause))


def policy_from_site(section: Callbacks, timezone: str = "Asia/Shanghai") -> CallbackPolicy:
    def clock(text: str) -> dt.time:
        hour, minute = text.split(":")
        return dt.time(int(hour), int(minute))

    return CallbackPolicy(
        target_minutes=section.target_minutes, quiet_start=clock(section.quiet_start),
        quiet_end=clock(section.quiet_end), attempts=section.attempts, retry_minutes=tuple(section.retry_minutes),
        agent_ring_seconds=section.agent_ring_seconds, citizen_ring_seconds=section.citizen_ring_seconds,
        center_number=section.center_number, outbound_channels=section.outbound_channels, tz=ZoneInfo(timezone))


def _next_day(local: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The same wall-clock time on the next day (not +24 h, which a DST change would shift)."""
    day = local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)


def priority(missed_calls: int, longest_wait_seconds: int) -> int:
    """Higher first: a caller who tried again and again, or who waited long before giving up."""
    return min(missed_calls, 5) + (1 if longest_wait_seconds >= 60 else 0)


def work_order(overdue: bool, task_priority: int, first_missed: dt.datetime) -> tuple[bool, int, dt.datetime]:
    """Sort key of the worklist: overdue tasks first, then higher priority, then the oldest."""
    return (not overdue, -task_priority, first_missed)


# ── numbers ──────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class NumberCheck:
    digits: str          # the number to dial ("" when refused)
    refused: str | None  # None, or a reason code: empty | foreign | malformed


_SEPARATORS = re.compile(r"[\s\-()]")


def check_number(raw: str | None) -> NumberCheck:
    """The number to dial for a caller ID or a ticket's phone, or why it may not be dialled.

    Accepted: mobile (11 digits, 13–19), landline with area code (0 + 9–11 digits), a local number without area
    code (7–8 digits, not starting with 0 or 1). ``+86`` / ``0086`` / ``86`` before a mobile is the country code
    and is dropped; any other ``+`` or ``00`` prefix is foreign."""
    text = _SEPARATORS.sub("", raw or "")
    if not text:
        return NumberCheck("", "empty")
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    else:
        if text.startswith(("+", "00")):
            return NumberCheck("", "foreign")
    if text.startswith("86") and len(text) == 13 and text[2] == "1":
        text = text[2:]
    if not text.isascii() or not text.isdigit():
        return NumberCheck("", "malformed")
    if len(text) == 11 and text[0] == "1" and text[1] in "3456789":
        return NumberCheck(text, None)
    if text[0] == "0" and 10 <= len(text) <= 12:
        return NumberCheck(text, None)
    if 7 <= len(text) <= 8 and text[0] not in "01":
        return NumberCheck(text, None)
    return NumberCheck("", "malformed")
