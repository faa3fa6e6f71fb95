"""``hotline desk train`` is wired into the launcher with its options."""

from __future__ import annotations

import pytest

from launcher.cli import build_parser, cmd_desk_train


def test_desk_train_parses_its_options():
    args = build_parser().parse_args(["desk", "train", "--target", "topic", "--min-tickets", "500"])
    assert args.func is cmd_desk_train
    assert args.target == ["topic"] and args.min_tickets == 500
    both = build_parser().parse_args(["desk", "train"])
    assert both.target is None and both.min_tickets is None


def test_desk_train_refuses_an_unknown_target(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["desk", "train", "--target", "mood"])
    assert "invalid choice" in capsys.readouterr().err
