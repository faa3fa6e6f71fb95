"""agent_desk/names.py: a transfer back to a queue reads with the queue's Chinese name in the 办理记录 (issue 19
leftovers), from the shipped number plan, or, before the desk is linked to the phone system, from its cities."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_desk.db.migrate import upgrade
from agent_desk.db.session import Database
from agent_desk.names import Names, queue_names
from hotline.numberplan import load_plan

PLAN = Path(__file__).resolve().parents[2] / "asterisk_conf" / "numbers.yaml"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('queues') / 'desk.db'}"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def test_queue_names_come_from_the_plan_or_the_cities():
    plan = load_plan(PLAN)
    named = queue_names(plan)
    assert set(named) == set(plan.all_queues())
    assert named["sp-460100"] == plan.all_queues()["sp-460100"].name
    assert queue_names(None, {"469002": "琼海市"}) == {"sp-469002": "琼海市分平台"}
    assert queue_names(None) == {}


def test_a_transfer_back_to_a_queue_names_the_queue(db):
    plan = load_plan(PLAN)
    province = plan.all_queues()["province"].name
    with db.session() as session:
        names = Names(session, queue_names(plan))
        assert names.history_text("transfer", {"Kind": "queue", "Target": "province", "Outcome": "queued"}) == (
            f"转接类型：转回队列；转接目标：{province}；结果：已进入队列")
        # a failed hand-off that sent the caller back to a queue says which one
        fell_back = {"Kind": "three_way", "Target": "12366", "Fallback": "queue:province"}
        assert names.history_text("transfer", fell_back) == (
            f"转接类型：三方转接；转接目标：12366；未接通时：转回{province}")
        # a queue the plan no longer has stays visible as it was written; other kinds' targets are not queues
        assert names.history_text("transfer", {"Kind": "queue", "Target": "gone"}).endswith("转接目标：gone")
        assert names.history_text("transfer", {"Kind": "blind", "Target": "province"}).endswith("转接目标：province")
    with db.session() as session:
        assert Names(session).history_text("transfer", {"Fallback": "queue:province"}) == "未接通时：转回队列"
