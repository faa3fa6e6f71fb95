"""Suggestions over HTTP on a real database (SQLite and PostgreSQL) with the real reference data and small models
trained here: rules first and marked, the model around them, retired units never shown, bad input never a 500,
the audit of each request; what the agent chose recorded after a save, and the acceptance supervisors read."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select, update

from agent_desk.db.models import AuditEntry, OrgUnit, Ticket
from agent_desk.seed import load_reference_data
from agent_desk.suggestions.models import SuggestionOutcome
import suggest
from agent_desk.suggestions.service import CurrentModels, NoModels
from agent_desk.supervision.periods import today
from tests.conftest import BACKENDS
from tests.support.desk import close_rig, make_rig
from tests.support.suggestions import TOPICS, Trained, trained

URL = "/api/v1/suggestions"


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def seeded(rig):
    with rig.app.state.db.session() as session:
        load_reference_data(session)
    rig.app.state.suggestion_models = NoModels()
    return rig


@pytest.fixture(scope="module")
def topic_model():
    return trained(TOPICS)


def unit_model_for(rig):
    """Wages → the rig's housing unit, water → its water unit, schools → its power unit (codes unique per rig)."""
    return trained({"labour": rig.units["housing"], "water": rig.units["water"], "school": rig.units["power"]})


def test_cold_start_answers_the_rules_marked_as_rules(seeded):
    reply = ok(seeded.call("agent", "POST", URL, json={"text": "家里停电了，电表也不走", "subplatform": "469002",
                                                         "call_id": "call-cold-1"}))
    assert reply["source"] == "rules" and reply["model_version"] == ""
    assert reply["topics"][0]["code"] == "03-power" and reply["topics"][0]["rule"] is True
    assert reply["topics"][0]["confidence"] is None and "停电" in reply["topics"][0]["reasons"]
    assert reply["topics"][0]["why"].startswith("分类关键词规则")
    assert reply["units"][0]["name"] == "海南电网公司" and reply["units"][0]["rule"] is True
    assert reply["units"][0]["why"].startswith("直派清单") and reply["units"][0]["id"]
    assert "暂无可用的学习模型，仅按规则建议" in reply["notes"]
    with seeded.app.state.db.session() as session:
        row = session.scalars(select(AuditEntry).where(AuditEntry.object_id == "call-cold-1")).one()
    assert row.action == "suggest" and row.username == seeded.user("agent") and row.object_type == "call"
    assert "停电" not in row.detail and "字数=11" in row.detail   # the audit names the request, not the words


def test_the_model_ranks_within_and_beyond_the_rules(seeded, topic_model):
    seeded.app.state.suggestion_models = Trained(topic=topic_model, unit=unit_model_for(seeded))
    reply = ok(seeded.call("agent", "POST", URL, json={"text": "我们公司老板拖欠工资三个月了，还不给交社保",
                                                         "subplatform": "469002", "line": "12345"}))
    assert reply["source"] == "model" and reply["model_version"] == "topic:test-topic unit:test-unit"
    topics = reply["topics"]
    assert topics[0]["code"] == "08-labour" and topics[0]["rule"] is True and topics[0]["confidence"] > 0.5
    assert [t["rule"] for t in topics] == [True, False, False] and len(topics) == 3
    assert all(0 <= t["confidence"] <= 1 for t in topics[1:]) and topics[1]["why"].startswith("学习模型")
    units = reply["units"]
    # 直派清单 (拖欠工资) and 派单目录 (劳动社保 in 琼海) name the same unit: the law, first; the model's pick follows
    assert units[0]["code"] == "469002-hrss" and units[0]["rule"] is True and units[0]["why"].startswith("直派清单")
    assert units[1]["code"] == seeded.units["housing"] and units[1]["rule"] is False
    assert units[1]["confidence"] > units[2]["confidence"] and units[1]["reasons"]


def test_the_topic_on_the_form_decides_the_catalogue(seeded):
    reply = ok(seeded.call("agent", "POST", URL, json={"text": "老师乱收费", "subplatform": "469002",
                                                         "topic": "03-water"}))
    assert reply["units"][0]["code"] == "469002-water" and reply["units"][0]["rule"] is True


def test_a_changed_catalogue_rule_is_used_at_once_though_rules_are_cached(seeded):
    """The rules are kept in memory (agent_desk.dispatch); a write to them, ORM or bulk, is seen by the next call."""
    from agent_desk.db.models import DispatchRule

    body = {"text": "老师乱收费", "subplatform": "469002", "topic": "03-water"}
    assert ok(seeded.call("agent", "POST", URL, json=body))["units"][0]["code"] == "469002-water"
    assert ok(seeded.call("agent", "POST", URL, json=body))["units"][0]["code"] == "469002-water"   # cached
    with seeded.app.state.db.session() as session:
        power = session.scalar(select(OrgUnit.id).where(OrgUnit.code == seeded.units["power"]))
        rule = session.scalars(select(DispatchRule).where(DispatchRule.kind == "catalogue",
                                                          DispatchRule.topic == "03-water",
                                                          DispatchRule.subplatform == "469002")).one()
        rule.unit_id = power          # an ORM change, flushed at commit
    assert ok(seeded.call("agent", "POST", URL, json=body))["units"][0]["code"] == seeded.units["power"]
    with seeded.app.state.db.session() as session:
        water = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "469002-water"))
        session.execute(update(DispatchRule).where(DispatchRule.id == rule.id).values(unit_id=water))   # bulk
    assert ok(seeded.call("agent", "POST", URL, json=body))["units"][0]["code"] == "469002-water"


def test_a_retired_unit_is_never_suggested(seeded, topic_model):
    seeded.app.state.suggestion_models = Trained(topic=topic_model, unit=unit_model_for(seeded))
    body = {"text": "小区停水两天了，自来水一直没来", "subplatform": "469002"}
    before = [u["code"] for u in ok(seeded.call("agent", "POST", URL, json=body))["units"]]
    assert seeded.units["water"] in before
    with seeded.app.state.db.session() as session:
        session.execute(update(OrgUnit).where(OrgUnit.code == seeded.units["water"]).values(active=False))
    after = [u["code"] for u in ok(seeded.call("agent", "POST", URL, json=body))["units"]]
    assert seeded.units["water"] not in after and after[0] == "469002-water"


@pytest.mark.parametrize(("body", "note"), [
    ({"text": ""}, "请输入或转写诉求描述后再给出建议"),
    ({"text": "   "}, "请输入或转写诉求描述后再给出建议"),
    ({"text": "水"}, "描述较短，建议仅供参考"),
    ({"text": "no water since monday"}, "描述中没有中文，建议仅供参考"),
    ({"text": "停水", "subplatform": "999999"}, "未知的市县分平台“999999”，已忽略，按全省规则建议"),
    ({"text": "停水", "town": "460105"}, "未知的乡镇“460105”，已忽略，按全省规则建议"),   # a district is not a town
    ({"text": "停水", "topic": "99-gone"}, "表单中的业务分类“99-gone”不在分类表中，已忽略"),
])
def test_bad_input_answers_200_with_a_note(seeded, topic_model, body, note):
    seeded.app.state.suggestion_models = Trained(topic=topic_model)
    reply = ok(seeded.call("agent", "POST", URL, json=body))
    assert note in reply["notes"]
    assert all(0 <= (t["confidence"] or 0) <= 1 for t in reply["topics"])
    if not body["text"].strip():
        assert reply == {"source": "rules", "model_version": "", "topics": [], "units": [], "notes": reply["notes"]}


def test_malformed_requests_and_roles(seeded):
    assert ok(seeded.call("agent", "POST", URL, json={"text": "水" * 20_001}), 422)["error"] == "invalid_request"
    assert seeded.call("agent", "POST", URL, json={"text": "停水", "extra": 1}).status_code == 422
    assert seeded.call("agent", "POST", URL, json={"text": "停水", "line": "abc"}).status_code == 422
    assert seeded.client.post(URL, content=b"{not json", headers={**seeded.as_("agent"),
                              "content-type": "application/json"}).status_code in (400, 422)
    assert ok(seeded.call("boss", "POST", URL, json={"text": "停水"}))["topics"][0]["code"] == "03-water"
    for short in ("water", "admin", "gateway"):
        assert seeded.call(short, "POST", URL, json={"text": "停水"}).status_code == 403
    assert seeded.client.post(URL, json={"text": "停水"}).status_code == 401


class BrokenModel:
    """A model file that loads but fails on every text (a corrupt or mismatched file)."""

    version = "broken"

    def top_k(self, text, k=3, context=None):
        raise ValueError("X has 12 features, but the model is expecting 40")


def test_a_model_that_fails_leaves_the_rules(seeded):
    seeded.app.state.suggestion_models = Trained(topic=BrokenModel(), unit=BrokenModel())
    reply = ok(seeded.call("agent", "POST", URL, json={"text": "家里停电了", "subplatform": "469002"}))
    assert reply["source"] == "rules" and "学习模型暂时无法使用，仅按规则建议" in reply["notes"]
    assert reply["topics"][0]["code"] == "03-power" and reply["units"][0]["name"] == "海南电网公司"


def test_the_models_in_the_folder_are_used_and_a_damaged_one_falls_back_to_rules(seeded, topic_model, tmp_path):
    suggest.save(topic_model, tmp_path / "topic.model", target="topic", version=3)
    seeded.app.state.suggestion_models = CurrentModels(tmp_path)   # no unit model there: units by rules
    body = {"text": "家里停水了，自来水一直没来", "subplatform": "469002"}
    reply = ok(seeded.call("agent", "POST", URL, json=body))
    assert reply["source"] == "model" and reply["model_version"] == "topic:v0003"
    assert reply["topics"][0]["code"] == "03-water" and reply["topics"][0]["confidence"] > 0.5
    assert [u["rule"] for u in reply["units"]] == [True] * len(reply["units"]) and reply["units"]

    (tmp_path / "topic.model").write_bytes(b"not a model at all")
    reply = ok(seeded.call("agent", "POST", URL, json=body))
    assert reply["source"] == "rules" and "暂无可用的学习模型，仅按规则建议" in reply["notes"]
    assert reply["topics"][0]["code"] == "03-water" and reply["topics"][0]["rule"] is True


# ── outcomes ───────────────────────────────────────────────────────────────

_PHONES = itertools.count(13666010000)   # a range no other test module uses


def draft(**changes) -> dict:
    """A new ticket from a caller of its own: the database is shared by the session's modules, and the same caller
    on the same topic again within the repeat window is linked to their earlier ticket instead of saved."""
    base = {"channel": "phone", "citizen_name": "王小明", "citizen_phone": str(next(_PHONES)),
            "title": "小区自来水发黄",
            "content": "嘉积镇金海岸小区的自来水这两天发黄。", "appeal_type": "complaint", "topic": "03-water",
            "location": "琼海市嘉积镇金海岸小区", "source_line": "12345"}
    return base | changes


def shown(rig, **changes) -> dict:
    base = {"source": "model", "model_version": "topic:v3 unit:v2",
            "topics": [{"code": "03-water", "confidence": 0.8, "rule": True},
                       {"code": "03-housing", "confidence": 0.1}],
            "units": [{"code": rig.units["water"], "confidence": 0.7, "rule": True},
                      {"code": rig.units["housing"], "confidence": 0.2}],
            "unit_chosen": rig.units["water"]}
    return base | changes


def test_a_saved_ticket_records_what_was_suggested_and_chosen(rig):
    number = ok(rig.call("agent", "POST", "/api/v1/tickets", json=draft()), 201)["number"]
    reply = ok(rig.call("agent", "POST", f"{URL}/outcomes", json={"ticket": number, **shown(rig)}))
    assert reply == {"recorded": True, "topic_outcome": "top1", "unit_outcome": "top1", "warnings": []}
    again = ok(rig.call("agent", "POST", f"{URL}/outcomes", json={"ticket": number, **shown(rig)}))
    assert again["recorded"] is False and again["warnings"] == ["该工单的建议采纳情况已记录，本次未重复记录"]
    with rig.app.state.db.session() as session:
        row = session.scalars(select(SuggestionOutcome).join(Ticket, Ticket.id == SuggestionOutcome.ticket_id)
                              .where(Ticket.number == number)).one()
        assert row.source == "model" and row.model_version == "topic:v3 unit:v2" and row.topic_chosen == "03-water"
        assert row.topics[0] == {"code": "03-water", "confidence": 0.8, "rule": True}


def test_other_choices_and_bad_records_never_touch_the_ticket(rig):
    other = ok(rig.call("agent", "POST", "/api/v1/tickets",
                        json=draft(topic="03-housing")), 201)["number"]
    reply = ok(rig.call("agent", "POST", f"{URL}/outcomes", json={"ticket": other, **shown(
        rig, unit_chosen=rig.units["power"], source="guess",
        topics=[{"code": "03-water"}, {"code": "99-gone"}, {"code": "03-housing"}],
        units=[{"code": rig.units["water"]}, {"code": "no-such-unit"}])}))
    assert reply["recorded"] is True and reply["topic_outcome"] == "other" and reply["unit_outcome"] == "overridden"
    assert reply["warnings"] == ["建议来源“guess”不明，按规则记录", "建议的分类“99-gone”不在分类表中，未记录",
                                 "建议的单位“no-such-unit”不存在或已撤销，未记录"]

    plain = ok(rig.call("agent", "POST", "/api/v1/tickets", json=draft(topic="")),
               201)["number"]
    assert ok(rig.call("agent", "POST", f"{URL}/outcomes", json={"ticket": plain, **shown(rig, unit_chosen="")})
              )["topic_outcome"] == "none"
    # malformed: refused, and the ticket saved before it is untouched
    bad = ok(rig.call("agent", "POST", f"{URL}/outcomes", json={"ticket": plain, "source": "model",
                                                               "topics": [{"code": "x", "confidence": 7}]}), 422)
    assert bad["error"] == "invalid_request"
    assert ok(rig.call("agent", "GET", f"/api/v1/tickets/{plain}"))["number"] == plain
    # only the agent who saved it records it
    assert ok(rig.call("agent2", "POST", f"{URL}/outcomes", json={"ticket": other, **shown(rig)}), 403
              )["error"] == "not_own_ticket"
    assert ok(rig.call("agent", "POST", f"{URL}/outcomes", json={"ticket": "20000101999999", **shown(rig)}), 404
              )["error"] == "unknown_ticket"
    assert rig.call("water", "POST", f"{URL}/outcomes", json={"ticket": other, **shown(rig)}).status_code == 403


@pytest.mark.parametrize("backend", BACKENDS)
def test_acceptance_by_topic_and_unit_over_time(new_database, redis_server, backend):
    rig = make_rig(new_database(backend), redis_server.authenticated_url)   # a database of its own: exact counts
    try:
        water, housing = rig.units["water"], rig.units["housing"]
        numbers = []
        for topic, chosen in [("03-water", water), ("03-water", water), ("03-housing", housing), ("08-labour", "")]:
            number = ok(rig.call("agent", "POST", "/api/v1/tickets",
                                 json=draft(topic=topic)), 201)["number"]
            ok(rig.call("agent", "POST", f"{URL}/outcomes", json={"ticket": number, **shown(rig, unit_chosen=chosen)}))
            numbers.append(number)
        # the third is later dispatched to another unit than the one on the form (a return and 改派 does the same)
        ok(rig.call("agent", "POST", f"/api/v1/tickets/{numbers[2]}/actions/dispatch", json={"host_unit": water}))

        report = ok(rig.call("boss", "GET", f"{URL}/acceptance", params={"period": "week"}))
        assert report["tickets"] == 4 and report["period"] == "week" and report["changed_after_save"] == 1
        assert report["totals"]["topics"] == {"decided": 4, "top1": 2, "other": 1, "overridden": 1, "none": 0,
                                              "top1_rate": 0.5, "top3_rate": 0.75}
        assert report["totals"]["units"] == {"decided": 3, "top1": 3, "other": 0, "overridden": 0, "none": 1,
                                             "top1_rate": 1.0, "top3_rate": 1.0}
        (by_topic,) = report["by_topic"]
        assert by_topic["code"] == "03-water" and by_topic["name"] == "供水排水" and by_topic["decided"] == 4
        assert report["by_unit"][0]["code"] == water and report["by_unit"][0]["name"] == "琼海市水务局"
        this_week = today() - dt.timedelta(days=today().weekday())
        assert report["series"][-1]["start"] == this_week.isoformat()
        assert report["series"][-1]["topics"]["decided"] == 4
        assert len(report["series"]) in (5, 6)   # 30 days in weeks from Monday

        daily = ok(rig.call("boss", "GET", f"{URL}/acceptance", params={"start": today().isoformat()}))
        assert [b["start"] for b in daily["series"]] == [today().isoformat()]
        assert rig.call("agent", "GET", f"{URL}/acceptance").status_code == 403
        assert ok(rig.call("boss", "GET", f"{URL}/acceptance", params={"start": "2026-02-01", "end": "2026-01-01"}),
                  422)["error"] == "invalid_period"
        assert rig.call("boss", "GET", f"{URL}/acceptance", params={"period": "year"}).status_code == 422
        for far in ({"end": "0001-01-01"}, {"start": "9999-12-31"}, {"end": "9999-12-31"}):
            assert ok(rig.call("boss", "GET", f"{URL}/acceptance", params=far), 422)["error"] == "invalid_period"
    finally:
        close_rig(rig)
