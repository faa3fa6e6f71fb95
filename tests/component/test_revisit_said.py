# ruff: noqa: F811  (``rig`` is test_revisit's fixture, imported to be used under its name)
"""人工回访复核 shows what a voice verdict was taken from, on the real database (SQLite, then PostgreSQL) over the
real HTTP API: an automated 回访 answered by voice carries what the speech engine heard (``said``, stored in the
ticket's revisit_call note); ``GET /revisits/reviews`` gives it beside the keys, numbers masked, for the call that
gave the verdict only; a verdict by keys alone has none."""

from __future__ import annotations

import datetime as dt

from agent_desk.callbacks import revisit
from hotline.contracts.revisit import RevisitEntry
from tests.component.test_revisit import POLICY, awaiting, campaign, claim_all, local, ok, rig, runner  # noqa: F401

HEARD = "没有解决 / 不满意，物业说会来修的，电话13912345678一直没人接"


def answer(rig, out_id: str, number: str, result: str, solved: str, digits: str, said: str = "") -> str:
    entry = RevisitEntry(out_id=out_id, ticket=number, result=result, solved=solved, digits=digits, said=said)
    with rig.app.state.db.session() as session:
        return revisit.apply_result(session, entry, POLICY, dt.datetime.now(dt.UTC))


def test_a_voice_verdict_shows_what_was_heard_beside_the_keys(rig):
    by_voice, by_keys, happy = (awaiting(rig, n) for n in (60, 61, 62))
    made = campaign(rig, [by_voice, by_keys, happy], max_channels=4)
    placed = {}
    for out_id, action in claim_all(rig, runner(rig, [local(10)])):
        number = next(x.split("=", 1)[1] for x in action["Variable"] if x.startswith("HOTLINE_REVISIT_TICKET="))
        placed[number] = out_id
    assert answer(rig, placed[by_voice], by_voice, "unsatisfied", "no", "", HEARD) == "unsatisfied"
    assert answer(rig, placed[by_keys], by_keys, "unsatisfied", "yes", "13") == "unsatisfied"
    assert answer(rig, placed[happy], happy, "satisfied", "yes", "", "解决了 / 满意") == "satisfied"

    for who in ("agent", "boss"):
        reviews = {r["ticket_number"]: r for r in ok(rig.call(who, "GET", "/api/v1/revisits/reviews"))["items"]}
        assert happy not in reviews, "closed by its verdict: nothing to review"
        voice, keys = reviews[by_voice], reviews[by_keys]
        assert (voice["campaign_id"], voice["digits"], voice["verdict"]) == (made["id"], "", "unsatisfied")
        assert voice["said"].startswith("没有解决 / 不满意，物业说会来修的，电话")
        assert "13912345678" not in voice["said"] and voice["said"].endswith("一直没人接"), "numbers said: masked"
        assert (keys["digits"], keys["said"]) == ("13", "")


def test_only_the_note_of_the_item_s_own_call_is_read(rig):
    """A voice answer noted for another call of the ticket (an earlier campaign's) is not this verdict's."""
    number = awaiting(rig, 63)
    first = campaign(rig, [number], max_channels=4)
    [(old_call, _a)] = [p for p in claim_all(rig, runner(rig, [local(10)])) if number in str(p[1])]
    assert answer(rig, old_call, number, "unsatisfied", "no", "", "早就说过没解决") == "unsatisfied"
    second = campaign(rig, [number], max_channels=4)
    assert second["id"] != first["id"]
    [(new_call, _a)] = [p for p in claim_all(rig, runner(rig, [local(10)])) if number in str(p[1])]
    assert answer(rig, new_call, number, "unsatisfied", "yes", "13") == "unsatisfied"
    rows = [r for r in ok(rig.call("boss", "GET", "/api/v1/revisits/reviews"))["items"]
            if r["ticket_number"] == number and r["campaign_id"] == second["id"]]
    assert [(r["digits"], r["said"]) for r in rows] == [("13", "")]
    older = [r for r in ok(rig.call("boss", "GET", "/api/v1/revisits/reviews"))["items"]
             if r["ticket_number"] == number and r["campaign_id"] == first["id"]]
    assert [r["said"] for r in older] == ["早就说过没解决"]
