"""回拨与回访 figures (issue 14, point 5) on SQLite and PostgreSQL: tickets built through the ticket service (the
lifecycle the API runs) in June 2019, a month no other test writes in, and callback tasks with their calls.

June 2019, province time (the day each ticket first reached 待回访, and its verdicts):

    Y1 water    created 05-31, 待回访 06-01, 不满意 未解决
    W1 water    待回访 06-10, 满意 解决
    W2 water    待回访 06-11, 不满意 未解决 → 重办 → 待回访 again 06-12 → 基本满意 解决 (the latest verdict counts)
    W3 water    待回访 06-12, no verdict yet
    H1 housing  待回访 06-13, 不满意 but 解决
    D1 direct   直接办结 06-14 (no host unit: 平台直接办结), 满意 解决
    X1 water    待回访 07-01, 满意 (July: not in June)

so, by hand, June: water reached 4, verdicts 3 (满意 1, 基本满意 1, 不满意 1; 解决 2, 未解决 1), 回访率 3/4;
housing 1/1 (不满意 1, 解决 1); direct 1/1; total reached 6, verdicts 5, 回访率 5/6, 满意 2, 基本满意 1, 不满意 2,
解决 4, 未解决 1. The week of 06-10 (Mon) to 06-16: W1 W2 W3 H1 D1 (Y1 reached 待回访 on 06-01). The day 06-11: W2.

Missed calls in June (target 120 callable minutes, quiet 21:00-08:00): A at 06-03 10:00 reached by 回拨 at 10:30
(within), B at 06-03 10:00 reached at 14:00 (late), C at 06-04 never reached: coverage 1/3 within target.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from agent_desk.db import models as m
from agent_desk.settings import PROVINCE_TZ
from agent_desk.tickets import service
from tests.support.desk import close_rig, make_rig, principal


def at(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2019, month, day, hour, minute, tzinfo=PROVINCE_TZ)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def rig(request, new_database, redis_server):
    """A database of this module's own: the figures count every ticket of the period."""
    rig = make_rig(new_database(request.param), redis_server.authenticated_url)
    yield rig
    close_rig(rig)


@pytest.fixture(scope="module")
def june(rig):
    """The tickets and tasks above; returns their numbers."""
    numbers: dict[str, str] = {}
    with rig.app.state.db.session() as session:
        agent, boss = principal(session, rig.user("agent")), principal(session, rig.user("boss"))
        units = {"water": principal(session, rig.user("water")), "housing": principal(session, rig.user("housing"))}

        def act(who, number, action, when, **payload):
            service.act(session, who, rig.app.state.settings, number, action, payload, now=when)

        def ticket(name: str, created: dt.datetime) -> str:
            draft = service.TicketDraft(channel="phone", source_line="12345", citizen_name="回访统计",
                                        citizen_phone=f"1391234{len(numbers):04d}", title=f"统计{name}",
                                        content=f"{name}的诉求", appeal_type="complaint", subplatform="469002")
            numbers[name] = service.create(session, agent, draft, now=created).ticket.number
            return numbers[name]

        def to_revisit(number: str, unit: str, reached: dt.datetime, first: bool = True) -> None:
            if first:
                act(agent, number, "dispatch", reached - dt.timedelta(hours=4), host_unit=rig.units[unit])
            act(units[unit], number, "sign", reached - dt.timedelta(hours=3))
            act(units[unit], number, "reply", reached - dt.timedelta(hours=2), content="已处理完毕。")
            act(boss, number, "approve_reply", reached)

        def verdict(number, when, result, solved, reason=""):
            act(agent, number, "callback", when, result=result, solved=solved, reason=reason)

        y1 = ticket("Y1", at(5, 31, 9))
        to_revisit(y1, "water", at(6, 1, 15))
        verdict(y1, at(6, 2, 10), "unsatisfied", False, "没有人来处理")
        w1 = ticket("W1", at(6, 10, 8))
        to_revisit(w1, "water", at(6, 10, 15))
        verdict(w1, at(6, 10, 16), "satisfied", True)
        w2 = ticket("W2", at(6, 11, 8))
        to_revisit(w2, "water", at(6, 11, 15))
        verdict(w2, at(6, 11, 16), "unsatisfied", False, "水压不足")
        act(boss, w2, "reopen", at(6, 11, 17), reason="市民不满意")
        to_revisit(w2, "water", at(6, 12, 15), first=False)
        verdict(w2, at(6, 12, 16), "basically_satisfied", True)
        w3 = ticket("W3", at(6, 12, 8))
        to_revisit(w3, "water", at(6, 12, 15))
        h1 = ticket("H1", at(6, 13, 8))
        to_revisit(h1, "housing", at(6, 13, 15))
        verdict(h1, at(6, 13, 16), "unsatisfied", True, "态度不好")
        d1 = ticket("D1", at(6, 14, 9))
        act(agent, d1, "resolve_directly", at(6, 14, 9, 30), answer="按政策答复。")
        verdict(d1, at(6, 14, 15), "satisfied", True)
        x1 = ticket("X1", at(7, 1, 8))
        to_revisit(x1, "water", at(7, 1, 15))
        verdict(x1, at(7, 1, 16), "satisfied", True)

        agent_id = session.scalar(select(m.User.id).where(m.User.username == rig.user("agent")))
        for n, missed, reached in ((1, at(6, 3, 10), at(6, 3, 10, 30)), (2, at(6, 3, 10), at(6, 3, 14)),
                                   (3, at(6, 4, 10), None)):
            name = f"{rig.tag}.{n}"
            task = m.CallbackTask(caller=f"1381234000{n}", open_caller=None,
                                  state="closed" if reached else "given_up", line="12345", subplatform="469002",
                                  first_call_id=name, last_call_id=name, missed_calls=1,
                                  first_missed_at=missed, last_missed_at=missed, attempts=1,
                                  outcome="reached" if reached else "no_answer", closed_at=reached)
            session.add(task)
            session.flush()
            if reached:
                session.add(m.CallbackCall(out_id=f"cb-{rig.tag}{n:014x}", task_id=task.id,
                                           agent_user_id=agent_id, agent_extension="8001",
                                           started_at=reached - dt.timedelta(minutes=1), citizen_answered_at=reached,
                                           ended_at=reached + dt.timedelta(minutes=3), status="ended",
                                           outcome="reached", dial_status="ANSWER", counted=True))
        w3_id = session.scalar(select(m.Ticket.id).where(m.Ticket.number == w3))
        session.add(m.CallbackCall(out_id=f"cb-{rig.tag}{99:014x}", ticket_id=w3_id, agent_user_id=agent_id,
                                   agent_extension="8001", started_at=at(6, 12, 16), citizen_answered_at=None,
                                   ended_at=at(6, 12, 16, 1), status="ended", outcome="no_answer",
                                   dial_status="NOANSWER", counted=False))
    return numbers


def get(rig, url: str, who: str = "boss"):
    response = rig.call(who, "GET", url)
    assert response.status_code == 200, response.text
    return response


def mix(row: dict) -> tuple:
    return (row["reached"], row["verdicts"], row["satisfied"], row["basically_satisfied"], row["unsatisfied"],
            row["solved"], row["unsolved"])


def test_the_month_week_and_day_figures_are_the_hand_counted_ones(rig, june):
    month = get(rig, "/api/v1/revisits/figures?period=month&date=2019-06-15").json()
    assert month["period"] == "2019年6月"
    assert [u["name"] for u in month["units"]] == ["琼海市水务局", "平台直接办结", "琼海市住房和城乡建设局"]
    water = next(u for u in month["units"] if u["key"] == rig.units["water"])
    housing = next(u for u in month["units"] if u["key"] == rig.units["housing"])
    direct = next(u for u in month["units"] if u["key"] == "direct")
    assert month["units"][0] == water   # the most tickets first
    assert mix(water) == (4, 3, 1, 1, 1, 2, 1) and water["rate"] == pytest.approx(3 / 4)
    assert water["unverdicted"] == 1 and water["satisfaction"] == pytest.approx(2 / 3)
    assert mix(housing) == (1, 1, 0, 0, 1, 1, 0) and housing["rate"] == 1.0
    assert mix(direct) == (1, 1, 1, 0, 0, 1, 0) and direct["name"] == "平台直接办结"
    assert mix(month["total"]) == (6, 5, 2, 1, 2, 4, 1) and month["total"]["rate"] == pytest.approx(5 / 6)
    cover = month["coverage"]
    assert (cover["tasks"], cover["contacted"], cover["contacted_within_target"]) == (3, 2, 1)
    assert cover["rate"] == pytest.approx(1 / 3) and cover["target_minutes"] == 120

    week = get(rig, "/api/v1/revisits/figures?period=week&date=2019-06-12").json()
    assert mix(week["total"]) == (5, 4, 2, 1, 1, 4, 0)   # Y1 reached 待回访 on 06-01: not this week
    day = get(rig, "/api/v1/revisits/figures?period=day&date=2019-06-11").json()
    assert mix(day["total"]) == (1, 1, 0, 1, 0, 1, 0)   # W2, counted on the day it first reached 待回访
    july = get(rig, "/api/v1/revisits/figures?period=month&date=2019-07-15").json()
    assert mix(july["total"]) == (1, 1, 1, 0, 0, 1, 0)


def test_the_reports_carry_the_figures_the_table_the_chart_and_the_export(rig, june):
    report = get(rig, "/api/v1/reports/monthly?date=2019-06-15").json()
    by_title = {s["title"]: s for s in report["sections"]}
    figures = dict(by_title["回拨与回访"]["rows"])
    assert figures["回访率"] == pytest.approx(5 / 6) and figures["进入待回访"] == 6 and figures["已回访"] == 5
    assert figures["未接来电回拨率（时限内）"] == pytest.approx(1 / 3) and figures["有未接来电的来电人"] == 3
    verdicts = ("满意", "基本满意", "不满意", "已解决", "未解决")
    assert tuple(figures[name] for name in verdicts) == (2, 1, 2, 4, 1)
    table = by_title["回访情况（按承办单位）"]
    rows = {r[0]: r[1:] for r in table["rows"]}
    assert rows["琼海市水务局"] == [4, 3, pytest.approx(0.75), 1, 1, 1, 2, 1, pytest.approx(2 / 3)]
    assert rows["平台直接办结"] == [1, 1, 1.0, 1, 0, 0, 1, 0, 1.0]
    chart = next(c for c in report["charts"] if c["type"] == "stacked")
    assert chart["labels"][0] == "琼海市水务局"
    series = {s["name"]: s["values"] for s in chart["series"]}
    assert series["满意"][0] == 1 and series["不满意"][0] == 1 and series["未回访"][0] == 1

    daily = get(rig, "/api/v1/reports/daily?date=2019-06-11").json()
    assert dict(next(s for s in daily["sections"] if s["title"] == "回拨与回访")["rows"])["进入待回访"] == 1

    exported = get(rig, "/api/v1/reports/monthly?date=2019-06-15&format=csv").content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(exported)))
    assert ["回访率", "83.33%"] in lines
    assert ["琼海市水务局", "4", "3", "75.00%", "1", "1", "1", "2", "1", "66.67%"] in lines


def test_who_may_read_the_figures_and_the_worklist(rig, june):
    for who in ("agent", "water", "gateway"):
        assert rig.call(who, "GET", "/api/v1/revisits/figures?period=month&date=2019-06-15").status_code == 403
    assert rig.call("admin", "GET", "/api/v1/revisits/figures?period=month&date=2019-06-15").status_code == 200
    assert rig.call("water", "GET", "/api/v1/revisits").status_code == 403

    listed = get(rig, "/api/v1/revisits?limit=200", "agent").json()
    mine = {i["number"]: i for i in listed["items"]}
    assert june["W3"] in mine and june["W1"] not in mine   # W1 has its verdict
    w3 = mine[june["W3"]]
    assert w3["caller_masked"].startswith("139") and "****" in w3["caller_masked"]
    assert "1391234" not in str(listed)   # no number in clear anywhere in the list
    assert w3["reply"] == "已处理完毕。" and w3["host_unit_name"] == "琼海市水务局"
    assert get(rig, "/api/v1/revisits?limit=200", "agent2").json() == {"items": [], "total": 0}   # not theirs
    with rig.app.state.db.session() as session:
        audited = session.scalar(select(func.count()).select_from(m.AuditEntry).where(
            m.AuditEntry.action == "read_revisits", m.AuditEntry.username == rig.user("agent"),
            m.AuditEntry.detail.contains(june["W3"])))
    assert audited == 1

    assert w3["calls"] == 1   # the 回拨 placed from it
    calls = get(rig, f"/api/v1/revisits/tickets/{june['W3']}/calls", "agent").json()["items"]
    shown = [(c["agent_name"], c["status_label"], c["outcome_label"]) for c in calls]
    assert shown == [("agent", "已结束", "无人接听")]
    assert rig.call("agent2", "GET", f"/api/v1/revisits/tickets/{june['W3']}/calls").status_code == 404
