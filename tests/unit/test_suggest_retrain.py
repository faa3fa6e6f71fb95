"""When the desk retrains its suggestion models (agent_desk.learning.retrain.due): a pure function of the clock,
the closed tickets now and the last training."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from agent_desk.learning.retrain import LastTraining, Policy, due, last_training

UTC = dt.UTC
CST = dt.timezone(dt.timedelta(hours=8))   # Asia/Shanghai has no daylight saving
POLICY = Policy(every_closed=500, nightly_hour=3, min_tickets=200)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, minute, tzinfo=CST)


def test_nothing_below_the_minimum_even_without_a_model():
    assert due(at(1, 12), 199, None, POLICY) is None


def test_the_first_model_as_soon_as_there_are_enough_tickets():
    assert due(at(1, 12), 200, None, POLICY) == "first"


@pytest.mark.parametrize(("closed_now", "expected"), [(1499, None), (1500, "closed"), (4000, "closed")])
def test_after_every_closed_new_tickets(closed_now, expected):
    last = LastTraining(at(1, 12), 1000)
    assert due(at(1, 13), closed_now, last, POLICY) == expected


def test_nightly_once_after_the_hour_when_anything_closed_since():
    last = LastTraining(at(1, 12), 1000)
    assert due(at(2, 2, 59), 1010, last, POLICY) is None       # before 03:00
    assert due(at(2, 3, 0), 1010, last, POLICY) == "nightly"
    assert due(at(2, 23, 0), 1010, last, POLICY) == "nightly"   # missed the hour (desk was down): still today
    trained = LastTraining(at(2, 3, 5), 1010)
    assert due(at(2, 23, 0), 1020, trained, POLICY) is None     # already done tonight
    assert due(at(3, 3, 1), 1020, trained, POLICY) == "nightly"
    assert due(at(3, 3, 1), 1010, trained, POLICY) is None      # nothing closed since: nothing to learn


def test_the_hour_is_local_time_whatever_the_clock_s_zone():
    last = LastTraining(at(1, 12), 1000)
    utc_now = at(2, 3, 30).astimezone(UTC)   # 19:30 UTC the day before
    assert due(utc_now, 1010, last, POLICY) == "nightly"


def test_either_trigger_can_be_switched_off():
    last = LastTraining(at(1, 12), 1000)
    assert due(at(2, 4), 5000, last, Policy(every_closed=0, nightly_hour=None)) is None
    assert due(at(2, 4), 5000, last, Policy(every_closed=0, nightly_hour=3)) == "nightly"
    assert due(at(1, 13), 5000, last, Policy(every_closed=500, nightly_hour=None)) == "closed"


def test_the_last_training_is_the_last_entry_of_the_index(tmp_path):
    assert last_training(tmp_path) is None
    (tmp_path / "versions.json").write_text(json.dumps({"versions": [
        {"target": "topic", "trained_at": "2026-06-01T04:00:00+00:00", "closed_tickets": 900},
        {"target": "unit", "trained_at": "2026-06-02T04:00:00+00:00", "closed_tickets": 1200}]}), encoding="utf-8")
    assert last_training(tmp_path) == LastTraining(dt.datetime(2026, 6, 2, 4, tzinfo=UTC), 1200)
    (tmp_path / "versions.json").write_text("{not json", encoding="utf-8")
    assert last_training(tmp_path) is None
