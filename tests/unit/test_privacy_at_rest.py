"""Personal data at rest and in logs: private file modes, masked caller numbers, config values that cannot
inject Asterisk configuration."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from agent_desk.bootstrap import private_database
from hotline.privacy import mask_phone, masked
from hotline.site import load_site
from hotline.yamlsource import ConfigError
from ivr.spool import Spool


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_spool_files_and_directories_are_private(tmp_path):
    spool = Spool(tmp_path / "spool" / "surveys")
    path = spool.put("call-1", '{"caller": "13812345678"}')
    assert (mode(path), mode(spool.directory), mode(tmp_path / "spool")) == (0o600, 0o700, 0o700)
    assert spool.get("call-1") == {"caller": "13812345678"} and spool.names() == ["call-1"]


def test_the_sqlite_database_is_created_private(tmp_path):
    private_database(f"sqlite:///{tmp_path}/desk.sqlite3")
    assert mode(tmp_path / "desk.sqlite3") == 0o600
    private_database("sqlite:///:memory:")   # nothing to do
    private_database("postgresql+psycopg://hotline@db/hotline")


def test_one_masking_helper_for_both_sides():
    from agent_desk.auth import privacy

    assert privacy.mask_phone is mask_phone
    assert mask_phone("13812345678") == "138****5678"
    assert masked({"caller": "13812345678", "line": "12345", b"phones": [b"13900001111"]}) == \
        {"caller": "138****5678", "line": "12345", b"phones": ["139****1111"]}


async def test_a_failing_city_memory_logs_the_caller_masked(caplog):
    from ivr import flow

    class Broken:
        async def set(self, *args, **kwargs):
            raise ConnectionError("down")

    class Services:
        memory = Broken()

        class flows:
            class city:
                remember_days = 30

    with caplog.at_level(logging.WARNING):
        await flow._remember_city(Services(), "13812345678", "460100")   # type: ignore[arg-type]
    assert "138****5678" in caplog.text and "13812345678" not in caplog.text


@pytest.mark.parametrize("text, where", [
    ('name: main\ntimezone: "Asia/Shanghai\\nexten => evil"\n', ":2: timezone: must not contain a line break"),
    ("agents:\n  pause_reasons:\n    break: \"小休;x\"\n", ":2: agents.pause_reasons: must not contain ';'"),
    ('ami_permit: ["127.0.0.1\\r"]\n', ":1: ami_permit: must not contain a line break"),
    ("carrier:\n  permit: [\"10.0.0.0/8\\u0000\"]\n", ":2: carrier.permit: must not contain a control character"),
])
def test_site_values_with_line_breaks_or_semicolons_are_refused_at_load(tmp_path, text, where):
    site = tmp_path / "site.yaml"
    site.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_site(site)
    assert any(p.startswith(f"{site}{where}") for p in refused.value.problems), refused.value.problems


def test_a_plan_name_with_a_line_break_is_refused_at_load(tmp_path):
    import re

    from hotline.numberplan import load_plan
    from hotline.paths import PROJECT_ROOT

    text = (PROJECT_ROOT / "asterisk_conf" / "numbers.yaml").read_text(encoding="utf-8")
    found = re.search(r"name: ([^,}\s]+)", text)
    assert found is not None
    line = text[:found.start()].count("\n") + 1
    plan = tmp_path / "numbers.yaml"
    plan.write_text(text.replace(found.group(0), f'name: "{found.group(1)}\\nexten => _X.,1,System(id)"', 1),
                    encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_plan(plan)
    assert any(p.startswith(f"{plan}:{line}: ") and p.endswith(".name: must not contain a line break: it is written "
                                                              "into the Asterisk configuration")
               for p in refused.value.problems), refused.value.problems
