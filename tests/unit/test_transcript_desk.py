"""The desk's side of the live transcript, without servers: its vocabulary covers the contract's codes, it reads a
stream entry in either shape, and numbers said are masked for readers who do not need them."""

from __future__ import annotations

from typing import get_args

import pytest

from agent_desk.auth.need_to_know import mask_numbers
from agent_desk.calls.transcript import decode_entry, merged
from hotline import vocab
from hotline.contracts import ContractMismatch, prefill, transcript
from hotline.contracts.transcript import Turn


@pytest.mark.parametrize("term, codes", [(vocab.Speaker, transcript.Speaker), (vocab.TurnPhase, transcript.Phase),
                                         (vocab.TurnStatus, transcript.Status), (vocab.PrefillStatus, prefill.Status)])
def test_every_contract_code_has_its_chinese_label(term, codes):
    assert set(term.labels()) == set(get_args(codes))
    assert all(label for label in term.labels().values())


def test_a_stream_entry_is_read_as_one_json_field_or_flat_fields():
    said = Turn(call_id="c1", speaker="citizen", seq=3, text="停水", start=1.5, end=2.0)
    assert decode_entry({b"turn": said.encode().encode()}) == said
    flat = {k: str(v) for k, v in said.to_dict().items()}
    assert decode_entry(flat) == said
    with pytest.raises(ContractMismatch, match="version 2"):
        decode_entry({"turn": said.model_copy(update={"v": 2}).encode()})
    with pytest.raises(ContractMismatch):
        decode_entry({"turn": "{not json"})


def test_stored_and_streamed_turns_merge_once_in_reading_order():
    a0 = Turn(call_id="c", speaker="agent", seq=0, text="您好", start=3.0)
    c0 = Turn(call_id="c", speaker="citizen", seq=0, text="排队时说的", start=0.5, phase="waiting")
    c1 = Turn(call_id="c", speaker="citizen", seq=1, text="后来说的", start=5.0)
    assert merged([a0, c0], [c0, c1]) == [c0, a0, c1]


@pytest.mark.parametrize("said, shown", [
    ("我的电话13876543210。", "我的电话138****3210。"),
    ("座机 0898-65551234 找王", "座机 089*****1234 找王"),
    ("身份证46000319900101123X", "身份证460***********123X"),
    ("号码是幺三八七六五四三二一零", "号码是幺三八****三二一零"),
    ("2024-06-01那天，302房，停了3天", "2024-06-01那天，302房，停了3天"),
])
def test_numbers_said_are_masked_and_the_rest_is_kept(said, shown):
    assert mask_numbers(said) == shown
