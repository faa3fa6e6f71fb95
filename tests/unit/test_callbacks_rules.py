"""The rules of callback tasks: target clock, quiet hours, retries, numbers, work order (injected clock)."""

from __future__ import annotations

import datetime as dt

import pytest

from agent_desk.callbacks.rules import (CallbackPolicy, Outcome, check_number, policy_from_site, priority,
                                        work_order)
from hotline.site import Callbacks, SiteConfig

TZ = CallbackPolicy().tz


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in Hainan local time (December 2026), as the UTC datetime the desk stores."""
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=TZ).astimezone(dt.UTC)


POLICY = CallbackPolicy()   # target 120 min, quiet 21:00–08:00, 3 attempts after 10 / 30 / 120 min


# ── quiet hours ──────────────────────────────────────────────────────────────
@pytest.mark.parametrize(("hour", "minute", "quiet"), [
    (20, 59, False), (21, 0, True), (23, 30, True), (0, 0, True), (7, 59, True), (8, 0, False), (12, 0, False)])
def test_quiet_hours_cross_midnight(hour, minute, quiet):
    assert POLICY.is_quiet(local(4, hour, minute)) is quiet


def test_quiet_hours_within_one_day_and_none():
    lunch = CallbackPolicy(quiet_start=dt.time(12, 0), quiet_end=dt.time(14, 0))
    assert lunch.is_quiet(local(4, 12, 30)) and not lunch.is_quiet(local(4, 14, 0))
    assert not lunch.is_quiet(local(4, 23, 0))
    never = CallbackPolicy(quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0))
    assert not never.is_quiet(local(4, 3, 0))
    assert never.next_callable(local(4, 3, 0)) == local(4, 3, 0)


def test_next_callable_is_the_end_of_the_quiet_hours():
    assert POLICY.next_callable(local(4, 22, 15)) == local(5, 8, 0)
    assert POLICY.next_callable(local(5, 6, 0)) == local(5, 8, 0)
    assert POLICY.next_callable(local(5, 9, 0)) == local(5, 9, 0)


# ── the target clock ─────────────────────────────────────────────────────────
def test_due_in_callable_time_only():
    assert POLICY.due_at(local(4, 10, 0)) == local(4, 12, 0)
    # 20:50 + 2 h: 10 minutes tonight, 110 minutes from 08:00 tomorrow
    assert POLICY.due_at(local(4, 20, 50)) == local(5, 9, 50)
    # a call missed in the night counts from the morning
    assert POLICY.due_at(local(4, 23, 10)) == local(5, 10, 0)


def test_due_across_several_quiet_nights():
    long = CallbackPolicy(target_minutes=26 * 60)   # 13 callable hours a day
    assert long.due_at(local(4, 8, 0)) == local(5, 21, 0)


# ── retries ──────────────────────────────────────────────────────────────────
def test_retry_schedule_increases_then_gives_up():
    at = local(4, 10, 0)
    assert POLICY.next_attempt(Outcome.NO_ANSWER, 1, at) == at + dt.timedelta(minutes=10)
    assert POLICY.next_attempt(Outcome.BUSY, 2, at) == at + dt.timedelta(minutes=30)
    assert POLICY.next_attempt(Outcome.NO_ANSWER, 3, at) is None


def test_retry_lands_after_quiet_hours():
    assert POLICY.next_attempt(Outcome.NO_ANSWER, 2, local(4, 20, 45)) == local(5, 8, 0)


def test_what_does_not_use_an_attempt():
    at = local(4, 10, 0)
    # the trunk busy or the phone system failing: a short wait, whatever the attempts used
    assert POLICY.next_attempt(Outcome.TRUNK_BUSY, 3, at) == at + dt.timedelta(minutes=2)
    assert POLICY.next_attempt(Outcome.FAILED, 0, at) == at + dt.timedelta(minutes=2)
    # nobody was dialled: callable again at once
    assert POLICY.next_attempt(Outcome.AGENT_NO_ANSWER, 3, at) == at
    assert POLICY.next_attempt(Outcome.CANCELLED, 3, at) == at


def test_last_interval_repeats_when_attempts_exceed_the_list():
    many = CallbackPolicy(attempts=5, retry_minutes=(5, 15))
    at = local(4, 10, 0)
    assert many.next_attempt(Outcome.NO_ANSWER, 4, at) == at + dt.timedelta(minutes=15)
    assert many.next_attempt(Outcome.NO_ANSWER, 5, at) is None


def test_policy_refuses_nonsense():
    with pytest.raises(ValueError):
        CallbackPolicy(attempts=0)
    with pytest.raises(ValueError):
        CallbackPolicy(retry_minutes=())


def test_policy_from_the_site_file():
    site = SiteConfig.model_validate({"callbacks": {"target_minutes": 60, "quiet_start": "22:30", "quiet_end": "07:15",
                                                    "attempts": 2, "retry_minutes": [5, 20]}})
    policy = policy_from_site(site.callbacks, site.timezone)
    assert policy.quiet_start == dt.time(22, 30) and policy.quiet_end == dt.time(7, 15)
    assert policy.attempts == 2 and policy.retry_minutes == (5, 20) and policy.target_minutes == 60
    with pytest.raises(ValueError):
        Callbacks.model_validate({"quiet_start": "25:00"})
    with pytest.raises(ValueError):
        Callbacks.model_validate({"outbound_channels": 0})


# ── numbers ──────────────────────────────────────────────────────────────────
@pytest.mark.parametrize(("raw", "digits"), [
    ("13800138000", "13800138000"), ("+8613800138000", "13800138000"), ("008613800138000", "13800138000"),
    ("8613800138000", "13800138000"), ("138-0013-8000", "13800138000"), ("089866668888", "089866668888"),
    ("01012345678", "01012345678"), ("66668888", "66668888"), ("6666888", "6666888")])
def test_dialable_numbers(raw, digits):
    assert check_number(raw).digits == digits and check_number(raw).refused is None


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "empty"), (None, "empty"), ("+441632960000", "foreign"), ("0044 1632 960000", "foreign"),
    ("12345", "malformed"), ("110", "malformed"), ("1380013800", "malformed"), ("12800138000", "malformed"),
    ("138001380001", "malformed"), ("1380013800x", "malformed"), ("anonymous", "malformed"),
    ("１３８００１３８０００", "malformed"), ("0123456", "malformed")])
def test_refused_numbers(raw, reason):
    check = check_number(raw)
    assert check.refused == reason and check.digits == ""


# ── work order ───────────────────────────────────────────────────────────────
def test_priority_and_order():
    assert priority(1, 10) == 1 and priority(3, 10) == 3 and priority(1, 90) == 2 and priority(9, 0) == 5
    early, late = local(4, 9, 0), local(4, 11, 0)
    keys = {"old": work_order(False, 1, early), "urgent": work_order(False, 3, late),
            "overdue": work_order(True, 1, late)}
    assert sorted(keys, key=keys.__getitem__) == ["overdue", "urgent", "old"]
