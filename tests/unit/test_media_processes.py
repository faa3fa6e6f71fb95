"""How many media processes ``hotline run`` starts and how (issue 17: several FastAGI processes on one port)."""

from __future__ import annotations

import argparse

import pytest

from hotline.contracts.processes import ProcessKind
from hotline.site import SiteConfig
from launcher import cli
from launcher.stack import MAX_DEFAULT_MEDIA, default_media_processes, stack_children


def test_one_media_process_is_the_plain_server_as_before():
    children = stack_children(SiteConfig(name="t"), "/recordings", media=1)
    media = [c for c in children if c.kind == ProcessKind.MEDIA]
    assert [(c.name, list(c.argv[3:])) for c in media] == [("media", ["agi", "serve"])]


def test_several_media_processes_are_workers_sharing_the_port_first_keeps_its_name():
    children = stack_children(SiteConfig(name="t"), "/recordings", media=3)
    media = [c for c in children if c.kind == ProcessKind.MEDIA]
    assert [(c.name, list(c.argv[3:])) for c in media] == [
        ("media", ["agi", "serve", "--worker", "0"]), ("media-1", ["agi", "serve", "--worker", "1"]),
        ("media-2", ["agi", "serve", "--worker", "2"])]
    assert {c.nice for c in media} == {media[0].nice} and media[0].nice < 0   # all on the call path
    assert len({c.name for c in children}) == len(children)


def test_the_default_is_one_per_cpu_capped(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert default_media_processes() == 2
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    assert default_media_processes() == MAX_DEFAULT_MEDIA
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert default_media_processes() == 2


def test_the_count_from_the_command_line_and_the_environment(monkeypatch):
    parser = cli.build_parser()
    assert parser.parse_args(["run", "--media", "3"]).media == 3
    assert parser.parse_args(["run"]).media is None
    assert parser.parse_args(["agi", "serve", "--worker", "1"]).worker == 1
    for bad in ("0", "33", "two"):
        with pytest.raises(SystemExit):
            parser.parse_args(["run", "--media", bad])
    monkeypatch.delenv(cli.MEDIA_PROCESSES_ENV, raising=False)
    assert cli.media_processes_from_env(2) == 2
    monkeypatch.setenv(cli.MEDIA_PROCESSES_ENV, "4")
    assert cli.media_processes_from_env(2) == 4
    monkeypatch.setenv(cli.MEDIA_PROCESSES_ENV, "many")
    with pytest.raises(argparse.ArgumentTypeError, match="many"):
        cli.media_processes_from_env(2)
