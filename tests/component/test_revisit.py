"""智能回访 campaigns on the real database (SQLite, then PostgreSQL) over the real HTTP API: the contract the
supervisor's page is built against, the verdict rules (only solved + satisfied closes; unsatisfied / unsolved go
to 人工回访复核), 不再回访, merged tickets each called, pacing with an injected clock, and restart safety."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from agent_desk.callbacks import campaign as cp
from agent_desk.callbacks import revisit
from agent_desk.callbacks.rules import CallbackPolicy
from agent_desk.callbacks.runner import CampaignRunner
from agent_desk.db import models as m
from hotline.ami import AmiEvent
from hotline.contracts.revisit import RevisitEntry
from tests.support.desk import close_rig, make_rig

POLICY = CallbackPolicy(quiet_start=dt.time(21, 0), quiet_end=dt.time(8, 0), retry_minutes=(10, 30),
                        outbound_channels=4)
WINDOW = {"window_start": "00:00", "window_end": "23:59"}


@pytest.fixture
def rig(database_url, redis_server):
    """The desk; the campaigns and calls earlier tests left in the session's shared database are ended first
    (they would hold the trunk's channels: pacing counts every campaign's calls)."""
    rig = make_rig(database_url, redis_server.authenticated_url, callbacks=POLICY)
    with rig.app.state.db.session() as session:
        session.execute(update(m.RevisitCall).where(m.RevisitCall.ended_at.is_(None))
                        .values(ended_at=dt.datetime.now(dt.UTC), outcome="test_reset"))
        session.execute(update(m.RevisitItem).where(m.RevisitItem.state != "done").values(state="done"))
        session.execute(update(m.RevisitCampaign).values(state="finished"))
    yield rig
    close_rig(rig)


def about(action: dict) -> str:
    """The ticket number an Originate's call reads out."""
    return next(x.split("=", 1)[1] for x in action["Variable"] if x.startswith("HOTLINE_REVISIT_TICKET="))


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def phone(rig, n: int) -> str:
    return f"139{(int(rig.tag, 16) * 10 + n) % 10**8:08d}"


def awaiting(rig, n: int, citizen_phone: str | None = None, **changes) -> str:
    """A ticket in 待回访 (resolved directly by the agent)."""
    body = {"channel": "phone", "citizen_name": "王小明", "citizen_phone": citizen_phone or phone(rig, n),
            "title": "路口积水", "content": "嘉积镇银海路路口下雨后积水很深。", "demand": "请尽快疏通",
            "appeal_type": "complaint", "location": "琼海市嘉积镇", "subplatform": f"s{rig.tag}", "topic": "03-water"}
    number = ok(rig.call("agent", "POST", "/api/v1/tickets", json=body | changes), 201)["number"]
    ok(rig.call("agent", "POST", f"/api/v1/tickets/{number}/actions/resolve_directly", json={"answer": "已告知"}))
    return number


def campaign(rig, numbers: list[str], **changes) -> dict:
    body = {"name": "十二月回访", "ticket_numbers": numbers, "max_channels": 1, "attempts": 2, **WINDOW} | changes
    return ok(rig.call("boss", "POST", "/api/v1/campaigns", json=body), 201)


def items_of(rig, campaign_id: int) -> list[m.RevisitItem]:
    with rig.app.state.db.session() as session:
        rows = cp.items(session, campaign_id)
        session.expunge_all()
    return rows


def ticket(rig, number: str) -> dict:
    return ok(rig.call("boss", "GET", f"/api/v1/tickets/{number}"))


def local(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, 5, hour, minute, tzinfo=POLICY.tz).astimezone(dt.UTC)


def runner(rig, at: list[dt.datetime]) -> CampaignRunner:
    return CampaignRunner(rig.app.state.db, POLICY, ami=lambda: None, redis=None, clock=lambda: at[0])


def claim_all(rig, run: CampaignRunner) -> list[tuple[str, dict]]:
    return run._claim_due(True)


def result(rig, out_id: str, number: str, result: str, solved: str, digits: str) -> str:
    entry = RevisitEntry(out_id=out_id, ticket=number, result=result, solved=solved, digits=digits)
    with rig.app.state.db.session() as session:
        return revisit.apply_result(session, entry, POLICY, dt.datetime.now(dt.UTC))


def test_the_campaign_api_contract_masks_audits_and_refuses_what_it_must(rig):
    good, foreign = awaiting(rig, 1), awaiting(rig, 2, citizen_phone="+4420794600000")
    quitter = awaiting(rig, 3)
    ok(rig.call("agent", "POST", "/api/v1/callbacks/opt-outs",
                json={"ticket_number": quitter, "reason": "市民表示不需要回访"}), 201)
    made = campaign(rig, [good, foreign, quitter])
    assert set(made) == {"id", "name", "state", "state_label", "created_at", "created_by_name", "max_channels",
                         "attempts", "window_start", "window_end", "in_window", "progress"}
    assert (made["state"], made["state_label"], made["created_by_name"]) == ("running", "进行中", "boss")
    assert made["progress"] | {} == {"total": 3, "pending": 1, "calling": 0, "done": 2, "reached": 0, "satisfied": 0,
                                     "basically_satisfied": 0, "unsatisfied": 0, "unsolved": 0, "no_answer": 0,
                                     "opted_out": 1, "to_agent": 0}
    cid = made["id"]
    assert ok(rig.call("boss", "GET", f"/api/v1/campaigns/{cid}")) == made | {"in_window": made["in_window"]}
    assert cid in [c["id"] for c in ok(rig.call("boss", "GET", "/api/v1/campaigns"))["items"]]
    items = ok(rig.call("boss", "GET", f"/api/v1/campaigns/{cid}/items"))["items"]
    by = {i["ticket_number"]: i for i in items}
    assert set(by[good]) == {"ticket_number", "caller_masked", "state", "attempts", "outcome", "outcome_label",
                             "verdict", "verdict_label", "updated_at"}
    assert phone(rig, 1) not in str(items) and by[good]["caller_masked"].count("*") >= 4
    assert (by[foreign]["outcome"], by[foreign]["outcome_label"]) == ("invalid_number", "号码无效，无法外呼")
    assert by[quitter]["outcome"] == "opted_out" and by[good]["state"] == "pending"
    with rig.app.state.db.session() as session:
        assert session.scalar(select(m.AuditEntry).where(m.AuditEntry.object_type == "revisit_campaign",
                                                         m.AuditEntry.object_id == str(cid),
                                                         m.AuditEntry.action == "read_personal_data")) is not None
    assert ok(rig.call("boss", "POST", f"/api/v1/campaigns/{cid}/pause"))["state"] == "paused"
    assert ok(rig.call("boss", "POST", f"/api/v1/campaigns/{cid}/resume"))["state"] == "running"
    # only supervisors run campaigns; bad input is a clear error
    for who in ("agent", "water", "admin"):
        assert rig.call(who, "GET", "/api/v1/campaigns").status_code == 403
        assert rig.call(who, "POST", f"/api/v1/campaigns/{cid}/pause").status_code == 403
    assert rig.call("boss", "GET", "/api/v1/campaigns/999999").status_code == 404
    assert ok(rig.call("boss", "POST", "/api/v1/campaigns", json={
        "name": "x", "ticket_numbers": [good], "max_channels": 1, "attempts": 1, "window_start": "20:00",
        "window_end": "09:00"}), 422)["error"] == "bad_window"
    over = rig.call("boss", "POST", "/api/v1/campaigns", json={"name": "x", "ticket_numbers": [good],
                                                               "max_channels": 5, "attempts": 1, **WINDOW})
    assert over.status_code == 422 and "4 路" in over.json()["message"]
    missing = rig.call("boss", "POST", "/api/v1/campaigns", json={"name": "x", "ticket_numbers": ["20000101999999"],
                                                                  "max_channels": 1, "attempts": 1, **WINDOW})
    assert missing.status_code == 422 and "20000101999999" in missing.json()["message"]
    # the same ticket in a second live campaign is recorded, not called twice
    again = campaign(rig, [good])
    assert items_of(rig, again["id"])[0].outcome == "in_other_campaign"
    # an agent may opt out only a ticket they may read
    other = awaiting(rig, 4)
    assert rig.call("agent2", "POST", "/api/v1/callbacks/opt-outs",
                    json={"ticket_number": other, "reason": "x"}).status_code == 404
    assert rig.call("agent", "POST", "/api/v1/callbacks/opt-outs",
                    json={"ticket_number": other, "reason": ""}).status_code == 422


def test_pacing_keeps_to_the_window_quiet_hours_and_max_channels_with_an_injected_clock(rig):
    numbers = [awaiting(rig, n) for n in (10, 11, 12)]
    made = campaign(rig, numbers, window_start="09:00", window_end="20:00", max_channels=1)
    at = [local(8, 30)]
    run = runner(rig, at)
    mine = lambda placed: [p for p in placed if about(p[1]) in numbers]  # noqa: E731
    assert mine(claim_all(rig, run)) == []                 # before the window
    at[0] = local(9, 0)
    first = mine(claim_all(rig, run))
    assert len(first) == 1                                 # max_channels = 1
    assert mine(claim_all(rig, run)) == []                 # still one call going
    out_id, action = first[0]
    assert action["Channel"] == "Local/s@hotline-outbound" and action["ChannelId"] == out_id
    # the citizen did not answer: that attempt is used; the next waits 10 minutes
    with rig.app.state.db.session() as session:
        ended = AmiEvent("UserEvent", {"UserEvent": "HotlineOutbound", "OutID": out_id, "Result": "ended",
                                       "DialStatus": "NOANSWER", "HangupCause": "19"})
        assert revisit.on_event(session, ended, POLICY, at[0]) == out_id
    second = mine(claim_all(rig, run))
    assert len(second) == 1 and second[0][0] != out_id
    by_state = {i.out_id: i for i in items_of(rig, made["id"])}
    assert by_state[out_id].state == "pending" and by_state[out_id].attempts == 1
    assert by_state[out_id].next_attempt_at == at[0] + dt.timedelta(minutes=10)
    ok(rig.call("boss", "POST", f"/api/v1/campaigns/{made['id']}/pause"))
    with rig.app.state.db.session() as session:
        busy = AmiEvent("UserEvent", {"UserEvent": "HotlineOutbound", "OutID": second[0][0], "Result": "trunk_busy"})
        revisit.on_event(session, busy, POLICY, at[0])
    assert mine(claim_all(rig, run)) == []                 # paused: nothing new
    item = next(i for i in items_of(rig, made["id"]) if i.out_id == second[0][0])
    assert (item.state, item.attempts, item.outcome) == ("pending", 0, "trunk_busy")   # not counted
    ok(rig.call("boss", "POST", f"/api/v1/campaigns/{made['id']}/resume"))
    at[0] = local(21, 30)                                  # inside 09-20? no; and quiet hours anyway
    assert mine(claim_all(rig, run)) == []


def test_a_restart_mid_call_never_calls_anyone_twice_for_one_attempt(rig):
    number = awaiting(rig, 20)
    made = campaign(rig, [number], attempts=2)
    at = [local(10)]
    first = runner(rig, at)
    [(out_id, _action)] = [p for p in claim_all(rig, first) if about(p[1]) == number]
    # the desk restarts: the new runner finds the call's channels gone (``reconcile``) and ends it
    at[0] = local(10, 1)
    second = runner(rig, at)
    with rig.app.state.db.session() as session:
        revisit.cut_by_restart(session, out_id, POLICY, at[0])
    assert [p for p in claim_all(rig, second) if about(p[1]) == number] == []
    [item] = items_of(rig, made["id"])
    assert (item.state, item.attempts) == ("unknown", 1)
    at[0] = local(10, 14)
    assert [p for p in claim_all(rig, second) if about(p[1]) == number] == []   # within the stale window
    # its result still arrives (the IVR wrote it to the stream): it settles the item
    assert result(rig, out_id, number, "satisfied", "yes", "11") == "satisfied"
    [item] = items_of(rig, made["id"])
    assert (item.state, item.verdict) == ("done", "satisfied")
    # without a result: after the stale window the next attempt, the unseen one counted
    other = awaiting(rig, 21)
    made2 = campaign(rig, [other], attempts=2)
    at[0] = local(11)
    [(lost, _a)] = [p for p in claim_all(rig, runner(rig, at)) if about(p[1]) == other]
    at[0] = local(11, 2)
    later = runner(rig, at)
    with rig.app.state.db.session() as session:
        revisit.cut_by_restart(session, lost, POLICY, at[0])
    claim_all(rig, later)
    at[0] = local(11, 16)
    claim_all(rig, later)            # releases it: pending, its next attempt after the retry interval
    [item] = items_of(rig, made2["id"])
    assert (item.state, item.attempts, item.outcome) == ("pending", 1, "unknown")
    at[0] = local(11, 27)
    [(again, _a)] = [p for p in claim_all(rig, later) if about(p[1]) == other]
    assert again != lost and items_of(rig, made2["id"])[0].attempts == 2


def test_asterisk_restarted_under_a_call_frees_its_channel_but_not_its_citizen(rig):
    numbers = [awaiting(rig, 50), awaiting(rig, 51)]
    made = campaign(rig, numbers, attempts=2)   # max_channels 1
    at = [local(12)]
    run = runner(rig, at)
    [(cut, _a)] = [p for p in claim_all(rig, run) if about(p[1]) in numbers]
    assert [p for p in claim_all(rig, run) if about(p[1]) in numbers] == []   # the one channel is taken
    with rig.app.state.db.session() as session:
        revisit.cut_by_restart(session, cut, POLICY, at[0])   # FullyBooted said Asterisk started after the call
        assert cp.calling_count(session, made["id"]) == 0
    [(nxt, _a)] = [p for p in claim_all(rig, run) if about(p[1]) in numbers]
    states = {i.out_id: (i.state, i.attempts) for i in items_of(rig, made["id"])}
    assert states[cut] == ("unknown", 1) and states[nxt] == ("calling", 1)


def test_only_solved_and_satisfied_closes_the_rest_goes_to_a_person(rig):
    happy, unhappy, unsolved, quitter, silent = (awaiting(rig, n) for n in (30, 31, 32, 33, 34))
    later = awaiting(rig, 35, citizen_phone=phone(rig, 33))   # the same citizen as quitter, on another ticket
    made = campaign(rig, [happy, unhappy, unsolved, quitter, silent], max_channels=4)
    pending_other = campaign(rig, [later])
    at = [local(10)]
    placed = {about(action): out_id for out_id, action in claim_all(rig, runner(rig, at))}
    assert result(rig, placed[happy], happy, "basically_satisfied", "yes", "12") == "basically_satisfied"
    assert result(rig, placed[unhappy], unhappy, "unsatisfied", "yes", "13") == "unsatisfied"
    assert result(rig, placed[unsolved], unsolved, "satisfied", "no", "21") == "unsolved"
    assert result(rig, placed[quitter], quitter, "opted_out", "", "9") == "opted_out"
    assert silent not in placed, "the trunk's 4 channels are held until their calls are seen ending"
    with rig.app.state.db.session() as session:
        for out_id in placed.values():
            hung_up = AmiEvent("UserEvent", {"UserEvent": "HotlineOutbound", "OutID": out_id, "Result": "ended",
                                             "DialStatus": "ANSWER", "HangupCause": "16"})
            assert revisit.on_event(session, hung_up, POLICY, at[0]) == out_id
    placed |= {about(action): out_id for out_id, action in claim_all(rig, runner(rig, at))}
    assert later not in placed, "opted out by key 9 on the other ticket: never called"
    assert result(rig, placed[silent], silent, "no_answer", "", "57") == "no_answer"
    assert result(rig, placed[happy], happy, "basically_satisfied", "yes", "12") == "basically_satisfied"  # again
    closed = ticket(rig, happy)
    assert closed["state"] == "closed"
    verdicts = [e for e in closed["history"] if e["action"] == "callback"]
    assert len(verdicts) == 1 and verdicts[0]["actor"] == "智能回访" and verdicts[0]["role"] == "system"
    assert verdicts[0]["data"]["result"] == "basically_satisfied" and verdicts[0]["data"]["solved"] is True
    assert any(e["action"] == "revisit_call" for e in closed["history"])
    for number in (unhappy, unsolved):
        view = ticket(rig, number)
        assert view["state"] == "awaiting_callback", "no verdict recorded: a person calls"
        assert not [e for e in view["history"] if e["action"] == "callback"]
        [note] = [e for e in view["history"] if e["action"] == "revisit_call" and "result" in e["data"]]
        assert note["data"]["review"] is True and note["actor"] == "智能回访"
    reviews = {r["ticket_number"]: r for r in ok(rig.call("agent", "GET", "/api/v1/revisits/reviews"))["items"]}
    assert (reviews[unhappy]["verdict"], reviews[unhappy]["digits"]) == ("unsatisfied", "13")
    assert reviews[unsolved]["verdict_label"] == "未解决" and happy not in reviews and silent not in reviews
    assert phone(rig, 31) not in str(reviews)
    # the agent calls and records the verdict with its reason: the review leaves the list
    ok(rig.call("boss", "POST", f"/api/v1/tickets/{unhappy}/actions/callback",
                json={"result": "unsatisfied", "solved": True}))
    assert unhappy not in {r["ticket_number"] for r in ok(rig.call("boss", "GET", "/api/v1/revisits/reviews"))["items"]}
    # 9: the number is never called again, in this campaign or another
    assert items_of(rig, pending_other["id"])[0].outcome == "opted_out"
    by = {i.ticket_id: i for i in items_of(rig, made["id"])}
    with rig.app.state.db.session() as session:
        silent_id = session.scalar(select(m.Ticket.id).where(m.Ticket.number == silent))
        assert session.scalar(select(m.RevisitOptOut).where(m.RevisitOptOut.caller == phone(rig, 33))) is not None
    assert (by[silent_id].state, by[silent_id].outcome) == ("pending", "no_answer")   # tried again later
    progress = ok(rig.call("boss", "GET", f"/api/v1/campaigns/{made['id']}"))["progress"]
    assert {k: progress[k] for k in ("reached", "basically_satisfied", "unsatisfied", "unsolved", "opted_out",
                                     "done", "pending")} == {"reached": 5, "basically_satisfied": 1,
                                                             "unsatisfied": 1, "unsolved": 1, "opted_out": 1,
                                                             "done": 4, "pending": 1}


def test_merged_tickets_each_get_their_own_call(rig):
    host = ok(rig.call("agent", "POST", "/api/v1/tickets", json={
        "channel": "phone", "citizen_name": "甲", "citizen_phone": phone(rig, 40), "title": "停水",
        "content": "停水三天", "demand": "恢复供水", "appeal_type": "complaint", "location": "琼海市",
        "subplatform": f"s{rig.tag}"}), 201)["number"]
    merged = ok(rig.call("agent", "POST", "/api/v1/tickets", json={
        "channel": "phone", "citizen_name": "乙", "citizen_phone": phone(rig, 41), "title": "停水",
        "content": "停水",
        "demand": "恢复供水", "appeal_type": "complaint", "location": "琼海市", "subplatform": f"s{rig.tag}",
        "merge_into": host}), 201)["number"]
    ok(rig.call("agent", "POST", f"/api/v1/tickets/{host}/actions/resolve_directly", json={"answer": "已恢复"}))
    assert ticket(rig, merged)["state"] == "awaiting_callback"
    made = campaign(rig, [host, merged])
    callers = sorted(i.caller for i in items_of(rig, made["id"]))
    assert callers == sorted([phone(rig, 40), phone(rig, 41)])
