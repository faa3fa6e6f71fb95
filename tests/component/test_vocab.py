"""GET /api/v1/vocab: the labels every page names codes with, from their one Python definition."""

from __future__ import annotations


from agent_desk.tickets import lifecycle as lc
from hotline.contracts.ticket_status import STATE_TEXT
from hotline.vocab import AppealType, TicketState


def test_every_role_reads_the_vocabulary_and_anonymous_gets_401(rig):
    assert rig.client.get("/api/v1/vocab").status_code == 401
    for who in ("agent", "boss", "admin", "gateway", "water"):
        response = rig.call(who, "GET", "/api/v1/vocab")
        assert response.status_code == 200, (who, response.text)
    vocab = response.json()
    assert vocab["ticket_states"]["return_requested"] == "退单审核中"
    assert vocab["actions"]["transfer"] == "转接/联动"          # the label the old JS table lacked
    assert vocab["appeal_types"] == {"consultation": "咨询", "help": "求助", "complaint": "投诉举报",
                                     "suggestion": "意见建议", "other": "其他"}
    assert vocab["refusal_reasons"]["emergency"].startswith("紧急事项")
    assert vocab["pause_reasons"]["break"] == "小休" and vocab["agent_states"]["on_call"] == "通话中"
    assert vocab["metrics"]["effective_satisfaction"] == "实际参评满意率"


def test_one_definition_each():
    # The lifecycle's states are the shared vocabulary's, and the IVR reads the same words out.
    assert lc.State is TicketState
    assert lc.STATE_LABELS == TicketState.labels() == STATE_TEXT
    assert {str(a) for a in AppealType} == {"consultation", "help", "complaint", "suggestion", "other"}
    for history_action in ("transfer", "survey", "repeat_linked"):
        assert history_action in lc.ACTION_LABELS
