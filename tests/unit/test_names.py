"""agent_desk/names.py: the names people read instead of codes, and the history's text (issue 19, point 6).

The lookups read a real (SQLite, migrated) database with a few units, people and one knowledge article; the topic
and queue names come from the shipped reference data and number plan.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import create_user
from agent_desk.db.migrate import upgrade
from agent_desk.db.models import OrgUnit
from agent_desk.db.session import Database
from agent_desk.knowledge.search import upsert_article
from agent_desk.names import Names, queue_name, topic_name
from agent_desk.tickets import lifecycle as lc
from hotline.numberplan import load_plan
from hotline.reference import topics

PLAN = Path(__file__).resolve().parents[2] / "asterisk_conf" / "numbers.yaml"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('names') / 'desk.db'}"
    upgrade(url)
    database = Database(url)
    with database.session() as session:
        province = OrgUnit(code="460000", name="海南省12345热线平台", kind="province", level="province")
        session.add(province)
        session.flush()
        session.add_all([
            OrgUnit(code="460100", name="海口市12345热线分平台", kind="subplatform", level="city",
                    parent_id=province.id, subplatform="460100"),
            OrgUnit(code="460100-housing", name="海口市住房和城乡建设局", kind="member_unit", level="city",
                    parent_id=province.id, subplatform="460100"),
            OrgUnit(code="hn-water", name="海南省水务厅", kind="member_unit", level="province", parent_id=province.id),
        ])
        create_user(session, "ux_agent", "correct-horse-12345", Role.AGENT, display_name="张晓梅")
        create_user(session, "no_name", "correct-horse-12345", Role.AGENT)   # no name given: the login name
        upsert_article(session, code="water-outage", title="停水怎么查询", body="拨打供水企业客服电话。")
    yield database
    database.dispose()


@pytest.fixture
def names(db):
    with db.session() as session:
        yield Names(session)


def test_units_places_and_people_are_named_and_unknown_codes_stay_visible(names):
    assert names.unit("460100-housing") == "海口市住房和城乡建设局"
    assert names.units(["hn-water", "gone-unit", None]) == {"hn-water": "海南省水务厅"}
    assert names.unit("gone-unit") == "gone-unit"     # a unit the tree no longer has: its code, not nothing
    assert names.unit(None) is None and names.unit("") is None
    assert names.place("460100") == "海口市"
    assert names.person("ux_agent") == "张晓梅"
    assert names.person("no_name") == "no_name"
    assert names.person("system") == "系统" and names.person("operator") == "服务器运维人员"
    assert names.person("someone-deleted") == "someone-deleted"


def test_every_topic_and_every_queue_of_the_plan_has_a_chinese_name():
    for topic in topics():
        assert topic_name(topic["code"]) == topic["name"] != topic["code"]
    assert topic_name("") is None and topic_name("99-unknown") == "99-unknown"
    plan = load_plan(PLAN)
    queues = plan.all_queues()
    assert {"province", "expert-12320", "sp-460100"} <= set(queues)
    for queue in queues:
        name = queue_name(plan, queue)
        assert name != queue and any("\u4e00" <= ch <= "\u9fff" for ch in name), (queue, name)


@pytest.mark.parametrize(("action", "data", "text"), [
    ("dispatch", {"host": "460100-housing", "co_units": ["hn-water"]},
     "主办单位：海口市住房和城乡建设局；协办单位：海南省水务厅"),
    ("settle_consultation", {"decided": "hn-water", "co_units": []}, "定责单位：海南省水务厅"),
    ("start_consultation", {"units": ["hn-water", "460100-housing"]}, "会商单位：海南省水务厅、海口市住房和城乡建设局"),
    ("sign", {"unit": "hn-water"}, "承办单位：海南省水务厅"),
    ("supervise", {"note": "请尽快办理", "count": 1}, "督办意见：请尽快办理；第1次督办"),
    ("escalate", {"from": "town", "to": "county", "reason": "跨镇"},
     f"原层级：{lc.Level.TOWN.label}；升级至：{lc.Level.COUNTY.label}；理由：跨镇"),
    ("callback", {"result": "satisfied", "solved": True}, "回访结果：满意；是否解决：是"),
    ("refuse", {"reason": "litigation", "explanation": "请向法院起诉"}, "理由：属于诉讼事项；说明：请向法院起诉"),
    ("reject_reply", {"reason": "答复不完整"}, "理由：答复不完整"),
    ("resolve_directly", {"answer": "已告知", "knowledge_ref": "water-outage"}, "答复：已告知；知识库：停水怎么查询"),
    ("accept", {"due_at": "2024-06-12T01:30:00+00:00", "channel": "phone"}, "办理时限：2024-06-12 09:30；渠道：电话"),
    ("transfer", {"CallID": "1718.2", "Kind": "three_way", "Target": "12366", "Outcome": "no_answer",
                  "Fallback": "agent", "Agent": "ux_agent", "TransferID": "ab12", "SetupMs": ""},
     "转接类型：三方转接；转接目标：12366；结果：无人接听；未接通时：留在原坐席；坐席：张晓梅"),
    ("dispatch", {"host": "gone-unit"}, "主办单位：gone-unit"),
    ("close_unsatisfied", {}, ""),
])
def test_history_entries_read_as_sentences_with_every_code_named(names, action, data, text):
    assert names.history_text(action, data) == text


def test_no_history_field_of_the_lifecycle_is_left_without_a_chinese_label(names):
    """Every field a history entry may carry reads as Chinese, never as its key ("count：1")."""
    for key in lc.EVENT_FIELD_LABELS:
        shown = names.history_text("any", {key: "x"})
        assert not shown.startswith(f"{key}："), shown
    assert names.history_text("escalate", {"from": "city"}).startswith("原层级：")
