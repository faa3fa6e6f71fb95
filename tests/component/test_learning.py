"""Training the suggestion models from the desk's own closed tickets, on SQLite and PostgreSQL.

The tickets are made here, at test time: their texts are TipDM 2020 training messages (read from ../shared, never
stored), their topics and host units follow the message's class, and one class is handled by a different unit in
each of two counties, so the unit model must use the place as well as the words.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from collections import Counter
from dataclasses import dataclass

import pytest
from sqlalchemy import insert, select, update

from agent_desk.db import models as m
from agent_desk.db.session import Database
from agent_desk.learning import current_model, model_path
from agent_desk.learning.cli import train as train_command
from agent_desk.learning.examples import closed_ticket_examples
from agent_desk.learning.loader import forget
from agent_desk.learning.retrain import Policy, Retrainer
from agent_desk.learning.training import INDEX, read_index, train_desk
from suggest import store
from suggest.examples import read_examples
from tests.conftest import BACKENDS
from tests.support.datasets import TIPDM_TRAIN
from tests.support.desk import new_tag
from tests.support.suggestions import rewrite_header

CLASS_TOPIC = {"城乡建设": "03-housing", "环境保护": "04-environment", "交通运输": "05-transport",
               "劳动和社会保障": "08-labour", "卫生计生": "02-health", "教育文体": "01-education",
               "商贸旅游": "10-market"}
PER_CLASS = 90
T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


@dataclass
class Center:
    db: Database
    tag: str
    units: dict[str, int]      # short name → id
    towns: dict[str, int]      # county short name → a town's id in it
    messages: list[tuple[str, str]]   # (text, class) not yet used as tickets
    made: int = 0

    def code(self, short: str) -> str:
        return f"{self.tag}-{short}"


def _unit(session, tag: str, short: str, kind: str, level: str, parent: int | None, active: bool = True) -> int:
    unit = m.OrgUnit(code=f"{tag}-{short}", name=f"{short}{tag}", kind=kind, level=level, parent_id=parent,
                     subplatform=f"{tag}-sp", active=active)
    session.add(unit)
    session.flush()
    return unit.id


def _host_for(center: Center, cls: str, county: str) -> str:
    if cls == "城乡建设":   # the same matter goes to each county's own housing bureau
        return f"housing-{county}"
    return {"环境保护": "env", "交通运输": "transport", "劳动和社会保障": "labour", "卫生计生": "health",
            "教育文体": "education", "商贸旅游": "market"}[cls]


def close_tickets(center: Center, n_per_class: int, closed_from: dt.datetime) -> int:
    """Insert closed tickets for the next unused messages, ``n_per_class`` of each class; how many were made."""
    by_class: dict[str, list[str]] = {}
    rest = []
    for text, cls in center.messages:
        if len(by_class.setdefault(cls, [])) < n_per_class:
            by_class[cls].append(text)
        else:
            rest.append((text, cls))
    center.messages = rest
    rows = []
    for cls, texts in by_class.items():
        for i, text in enumerate(texts):
            county = "east" if i % 2 else "west"
            title, _, content = text.partition("。")
            closed = closed_from + dt.timedelta(minutes=len(rows))
            rows.append({"number": f"{center.tag}{center.made + len(rows):06d}"[-20:], "channel": "phone",
                         "source_line": "12345", "title": title[:128], "content": content or title,
                         "appeal_type": "complaint", "topic": CLASS_TOPIC[cls], "subplatform": f"{center.tag}-sp",
                         "location_unit_id": center.towns[county], "state": "closed",
                         "host_unit_id": center.units[_host_for(center, cls, county)],
                         "created_at": closed - dt.timedelta(days=2), "updated_at": closed, "closed_at": closed})
    with center.db.engine.begin() as conn:
        conn.execute(insert(m.Ticket), rows)
    center.made += len(rows)
    return len(rows)


@pytest.fixture(params=BACKENDS)
def center(request, new_database):
    db = Database(new_database(request.param))
    tag = new_tag()
    texts, labels = read_examples(TIPDM_TRAIN)
    with db.session() as s:
        sp = _unit(s, tag, "sp", "subplatform", "city", None)
        counties = {c: _unit(s, tag, c, "district", "county", sp) for c in ("east", "west")}
        towns = {c: _unit(s, tag, f"town-{c}", "town", "town", counties[c]) for c in counties}
        shorts = ["env", "transport", "labour", "health", "education", "market", "housing-east", "housing-west"]
        units = {u: _unit(s, tag, u, "member_unit", "city", sp) for u in shorts}
        units["retired"] = _unit(s, tag, "retired", "member_unit", "city", sp, active=False)
    center = Center(db, tag, units, towns, list(zip(texts, labels, strict=True)))
    forget()
    yield center
    forget()
    db.dispose()


def test_training_learns_topics_and_final_host_units_and_promotes_them(center, tmp_path):
    close_tickets(center, PER_CLASS, T0)
    with center.db.engine.begin() as conn:   # returned, then handled by a unit retired since: not learnt from
        retired = conn.execute(select(m.Ticket.id).limit(6)).scalars().all()
        conn.execute(update(m.Ticket).where(m.Ticket.id.in_(retired)).values(host_unit_id=center.units["retired"]))
    models = tmp_path / "models"
    lines: list[str] = []
    outcomes = train_desk(center.db.sessions, models, progress=lines.append)
    assert any("read" in line and "closed tickets" in line for line in lines)
    topic, unit = outcomes
    assert (topic.target, unit.target) == ("topic", "unit")
    assert not topic.refused and not unit.refused
    assert topic.promoted and unit.promoted and topic.version == unit.version == 1
    assert topic.n_examples == 7 * PER_CLASS and unit.n_examples == 7 * PER_CLASS - 6
    assert unit.skipped == {"unit_retired": 6}
    assert topic.held_out["top1"] >= 0.75 and topic.held_out["top3"] >= 0.9, topic.held_out
    assert unit.held_out["top1"] >= 0.7, unit.held_out

    for target in ("topic", "unit"):
        head = store.read_header(models / "history" / f"{target}-v0001.model")
        assert head["target"] == target and head["version"] == 1 and head["held_out"]["n"] > 0
        assert (models / f"{target}.model").read_bytes() == (models / "history" / f"{target}-v0001.model").read_bytes()
    index = json.loads((models / INDEX).read_text(encoding="utf-8"))["versions"]
    assert [(v["target"], v["version"], v["promoted"]) for v in index] == [("topic", 1, True), ("unit", 1, True)]

    units = current_model(models, "unit")
    assert units is not None and center.code("retired") not in units.labels
    # messages of the class split by county, not used for training: the place picks the county's bureau
    unseen = [text for text, cls in center.messages if cls == "城乡建设"][:40]
    east = {"subplatform": f"{center.tag}-sp", "county": center.code("east"), "line": "12345"}
    west = {**east, "county": center.code("west")}
    firsts = {name: [units.top_k(text, k=1, context=place)[0].label for text in unseen]
              for name, place in (("east", east), ("west", west))}
    housing = {center.code("housing-east"), center.code("housing-west")}
    # (only 45 tickets per bureau here, and TipDM's 城乡建设 is broad: a third of them still go to a bureau first)
    assert sum(label in housing for label in firsts["east"]) >= 0.25 * len(unseen), Counter(firsts["east"])
    assert sum(label in housing for label in firsts["west"]) >= 0.25 * len(unseen), Counter(firsts["west"])
    # the other county's bureau almost never: at most one of the 40 (with hashed n-grams, 1 of 40 in one run of
    # 2026-12-04, where the vocabulary's n-grams gave 0: the text's pull on a message this far from both bureaus)
    assert sum(label == center.code("housing-west") for label in firsts["east"]) <= 1, Counter(firsts["east"])
    assert sum(label == center.code("housing-east") for label in firsts["west"]) <= 1, Counter(firsts["west"])
    topics = current_model(models, "topic")
    assert topics is not None and topics.top_k("孩子上学学位不够，学校乱收费", k=1)[0].label == "01-education"


def test_a_new_version_replaces_the_model_in_use_only_if_not_worse(center, tmp_path):
    models = tmp_path / "models"
    close_tickets(center, PER_CLASS, T0)
    train_desk(center.db.sessions, models, targets=("unit",))
    # the same tickets again: nothing new to the model in use, so the two own held-out figures are compared
    again = train_desk(center.db.sessions, models, targets=("unit",))[0]
    assert again.version == 2 and again.promoted
    assert again.compared["on"] == "own_held_out_figures" and again.compared["against"] == 1

    # a model in use that claims a perfect held-out score is not replaced by a merely good one
    in_use = model_path(models, "unit")
    rewrite_header(in_use, held_out={"top1": 1.0, "top3": 1.0, "n": 99})
    before = in_use.read_bytes()
    kept = train_desk(center.db.sessions, models, targets=("unit",))[0]
    assert kept.version == 3 and not kept.promoted and in_use.read_bytes() == before
    assert (models / "history" / "unit-v0003.model").exists()
    assert [v["promoted"] for v in read_index(models)] == [True, True, False]

    # tickets closed after the model in use was trained: both models are measured on those same tickets
    close_tickets(center, 60, T0 + dt.timedelta(days=30))
    fresh = train_desk(center.db.sessions, models, targets=("unit",))[0]
    assert fresh.compared["on"] == "same_held_out_tickets" and fresh.compared["n"] >= 30
    assert fresh.promoted == (fresh.compared["new_top1"] >= fresh.compared["current_top1"])


def test_too_few_closed_tickets_are_refused_and_nothing_is_written(center, tmp_path, capsys):
    close_tickets(center, 5, T0)   # 35 tickets
    models = tmp_path / "models"
    url = center.db.engine.url.render_as_string(hide_password=False)
    code = train_command(url, models, argparse.Namespace(target=None, min_tickets=None))
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "too few closed tickets to train the topic model: 35 usable, at least 200" in err
    assert "too few closed tickets to train the unit model" in err
    assert not model_path(models, "topic").exists() and not (models / INDEX).exists()


def test_the_command_shows_progress_and_one_line_per_model(center, tmp_path, capsys):
    close_tickets(center, 40, T0)   # 280 tickets
    models = tmp_path / "models"
    url = center.db.engine.url.render_as_string(hide_password=False)
    assert train_command(url, models, argparse.Namespace(target=["topic"], min_tickets=None)) == 0
    out, err = capsys.readouterr()
    assert "[train]" in err and "held-out" in err
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("topic v0001 top1=") and lines[0].endswith(" n=280 promoted")
    assert model_path(models, "topic").exists() and not model_path(models, "unit").exists()


def test_the_background_retrainer_trains_after_enough_new_closed_tickets(center, tmp_path, caplog):
    caplog.set_level(logging.INFO, "agent_desk.learning.retrain")
    models = tmp_path / "models"
    now = [dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)]
    retrainer = Retrainer(center.db.sessions, models, Policy(every_closed=100, nightly_hour=None, min_tickets=200),
                          clock=lambda: now[0])   # trains in a child process, as in the desk
    close_tickets(center, 20, T0)             # 140 closed: below the minimum, nothing to do
    assert retrainer.check() is None and not models.exists()
    close_tickets(center, 20, T0 + dt.timedelta(days=1))    # 280: the first model
    assert retrainer.check() == "first"
    assert current_model(models, "topic") is not None and current_model(models, "unit") is not None
    now[0] += dt.timedelta(hours=1)
    assert retrainer.check() is None            # nothing new
    close_tickets(center, 10, T0 + dt.timedelta(days=2))    # 70 more: not enough yet
    assert retrainer.check() is None
    close_tickets(center, 10, T0 + dt.timedelta(days=3))    # 140 since the last training
    assert retrainer.check() == "closed"
    assert [v["version"] for v in read_index(models) if v["target"] == "topic"] == [1, 2]
    assert retrainer.trainings == 2


def test_a_failing_retraining_keeps_the_model_in_use_and_warns(center, tmp_path, caplog):
    models = tmp_path / "models"
    close_tickets(center, 40, T0)
    train_desk(center.db.sessions, models)
    before = model_path(models, "topic").read_bytes()
    close_tickets(center, 20, T0 + dt.timedelta(days=1))
    caplog.set_level(logging.WARNING, "agent_desk.learning.retrain")
    retrainer = Retrainer(center.db.sessions, models, Policy(every_closed=100, nightly_hour=None))
    retrainer.command = [sys.executable, "-c", "import sys; sys.exit('OSError: disk full')"]
    assert retrainer.check() is None
    assert any("retraining failed (exit 1): OSError: disk full" in r.getMessage() for r in caplog.records)
    assert model_path(models, "topic").read_bytes() == before
    assert current_model(models, "topic") is not None
    assert retrainer.check() is None and retrainer.trainings == 0   # not retried until the next trigger


def test_examples_read_the_final_host_and_the_place(center):
    close_tickets(center, 6, T0)
    with center.db.engine.begin() as conn:
        ids = conn.execute(select(m.Ticket.id).order_by(m.Ticket.id)).scalars().all()
        conn.execute(update(m.Ticket).where(m.Ticket.id == ids[0]).values(topic=""))
        conn.execute(update(m.Ticket).where(m.Ticket.id == ids[1]).values(topic="99-gone"))
        conn.execute(update(m.Ticket).where(m.Ticket.id == ids[2]).values(host_unit_id=None))   # 直接办结
        conn.execute(update(m.Ticket).where(m.Ticket.id == ids[3]).values(state="replied"))     # not closed
    with center.db.session() as s:
        found = closed_ticket_examples(s)
    assert found["topic"].skipped == {"no_topic": 1, "topic_retired": 1}
    assert found["unit"].skipped == {"no_host_unit": 1}
    assert len(found["topic"].texts) == 42 - 1 - 2 and len(found["unit"].texts) == 42 - 1 - 1
    assert ids[3] not in found["topic"].ticket_ids
    units = Counter(found["unit"].labels)   # the first six are 城乡建设: odd ones east, even ones west
    assert (units[center.code("housing-east")], units[center.code("housing-west")]) == (2, 2)
    contexts = {tuple(sorted(c.items())) for c in found["topic"].contexts}
    assert {dict(c)["county"] for c in contexts} == {center.code("east"), center.code("west")}
    assert all(dict(c)["line"] == "12345" and dict(c)["subplatform"] == f"{center.tag}-sp" for c in contexts)
    assert {dict(c)["town"] for c in contexts} == {center.code("town-east"), center.code("town-west")}


def test_the_desk_runs_the_retrainer_only_when_it_has_a_models_folder(database_url, redis_server, tmp_path):
    from tests.support.desk import close_rig, make_rig

    plain = make_rig(database_url, redis_server.authenticated_url)
    try:
        assert plain.app.state.retrainer is None
    finally:
        close_rig(plain)
    models = tmp_path / "models"
    rig = make_rig(database_url, redis_server.authenticated_url, suggest_models=str(models),
                   retrain_after_closed=1000, retrain_nightly_hour=None)
    retrainer = rig.app.state.retrainer
    try:
        assert isinstance(retrainer, Retrainer) and retrainer.models_dir == models
        assert retrainer.policy.every_closed == 1000 and retrainer.policy.nightly_hour is None
        assert retrainer._thread is not None and retrainer._thread.is_alive()   # started with the desk
        assert rig.client.get("/healthz").status_code == 200
    finally:
        close_rig(rig)
    retrainer._thread.join(10)
    assert not retrainer._thread.is_alive()   # stopped with it


def test_stopping_the_desk_stops_a_training_under_way(center, tmp_path):
    import time

    close_tickets(center, 1, T0)
    retrainer = Retrainer(center.db.sessions, tmp_path / "models", Policy(min_tickets=1, nightly_hour=None))
    retrainer.command = [sys.executable, "-c", "import time; time.sleep(120)"]
    retrainer.start()
    deadline = time.monotonic() + 30
    while retrainer._child is None:
        assert time.monotonic() < deadline, "the training never started"
        time.sleep(0.05)
    child = retrainer._child
    started = time.monotonic()
    retrainer.stop()
    assert time.monotonic() - started < 10
    assert child.poll() is not None and not retrainer._thread.is_alive()
    assert retrainer.trainings == 0
