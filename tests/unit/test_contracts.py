"""The IVR↔desk contracts: one definition each, typed and versioned on both sides."""

from __future__ import annotations

import json

import pytest

from hotline.contracts import ContractMismatch, prefill, survey, ticket_status


def test_both_sides_use_the_one_definition():
    import agent_desk.calls.listener as listener
    import agent_desk.calls.tracker as tracker
    import ivr.prefill
    import ivr.prefill_store
    import ivr.survey
    import ivr.ticket_status

    assert ivr.prefill.Prefill is prefill.Prefill is tracker.Prefill
    assert ivr.prefill_store.CHANNEL == listener.PREFILL_CHANNEL == "hotline:prefill"
    assert ivr.survey.STREAM == listener.survey.STREAM == "hotline:surveys"
    assert ivr.survey.SurveyEntry is survey.SurveyEntry
    assert ivr.ticket_status.TicketStatus is ticket_status.TicketStatus
    assert prefill.key("c1") == "hotline:prefill:c1"
    assert ticket_status.key("20261122000123") == "hotline:ticket-status:20261122000123"


@pytest.mark.parametrize("payload", [
    prefill.Prefill(call_id="c1", transcript="停水三天", status="final", phones=["13800000000"]),
    survey.SurveyEntry(call_id="c1", line="12345", result="satisfied", digits="1"),
])
def test_a_payload_round_trips_with_its_version(payload):
    text = payload.encode()
    assert json.loads(text)["v"] == 1
    assert type(payload).decode(text) == payload


def test_a_ticket_status_round_trips_through_its_hash():
    status = ticket_status.TicketStatus(number="20261122000123", state="dispatched", unit_name="琼海市水务局",
                                        due_at="2026-11-25T18:00:00+08:00")
    fields = status.to_hash()
    assert fields["v"] == "1" and fields["state_label"] == "已派单"
    back = ticket_status.TicketStatus.from_hash("20261122000123", {k.encode(): v.encode() for k, v in fields.items()})
    assert back.due_at == status.due_at and back.unit_name == "琼海市水务局"


@pytest.mark.parametrize("version", [None, "0", "2"])
def test_another_version_is_refused_loudly(version):
    fields = {"call_id": "c1", "result": "satisfied"} | ({"v": version} if version else {})
    with pytest.raises(ContractMismatch, match="version"):
        survey.SurveyEntry.from_fields(fields)
    with pytest.raises(ContractMismatch, match="version"):
        prefill.Prefill.decode(json.dumps({"call_id": "c1"} | ({"v": version} if version else {})))


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '{"v": 1}', '{"v": 1, "call_id": "c", "status": "singing"}'])
def test_malformed_payloads_are_refused_with_a_reason(raw):
    with pytest.raises(ContractMismatch):
        prefill.Prefill.decode(raw)
