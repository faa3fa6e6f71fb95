"""The generated ``[hotline-outbound]`` context: number checks, the trunk's GROUP limit, 12345 as caller ID."""

from __future__ import annotations

import re

from hotline import channelvars as v
from hotline import confgen
from hotline.numberplan import load_plan
from hotline.site import SiteConfig
from tests.unit.golden import PLAN, FixedSecrets


def outbound_context(site: SiteConfig) -> str:
    plan = load_plan(PLAN)
    text = confgen.render(plan, site, FixedSecrets(confgen.secret_names(site, plan))).files["extensions.conf"]  # type: ignore[arg-type]
    match = re.search(rf"^\[{v.CTX_OUTBOUND}\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M)
    assert match, "no outbound context"
    return match.group(1)


def test_the_outbound_context_checks_the_number_limits_the_trunk_and_shows_12345():
    site = SiteConfig.model_validate({"carrier": {"host": "192.0.2.10"},
                                      "callbacks": {"outbound_channels": 7, "center_number": "12345"}})
    context = outbound_context(site)
    lines = [line for line in context.splitlines() if not line.startswith(";")]
    body = "\n".join(lines)
    # the number is checked before anything is dialled; foreign and malformed are refused with their reason
    assert body.index("Reason: foreign") < body.index("Dial(") and body.index("Reason: malformed") < body.index("Dial(")
    # the limit is counted per trunk, and over it the call fails as trunk_busy before any Dial
    assert f"Set(GROUP({v.OUTBOUND_GROUP})=carrier)" in body
    assert f"GROUP_COUNT(carrier@{v.OUTBOUND_GROUP})}} > ${{{v.OUTBOUND_LIMIT}}}" in body
    assert body.index("GROUP_COUNT") < body.index("Dial(")
    assert f'Set(CALLERID(all)="${{{v.CENTER_NUMBER}}}" <${{{v.CENTER_NUMBER}}}>)' in body
    assert "Dial(PJSIP/${OUT_N}@carrier," in body and "MixMonitor(" in body
    text = confgen.render(load_plan(PLAN), site, FixedSecrets(confgen.secret_names(site, load_plan(PLAN))))  # type: ignore[arg-type]
    globals_ = text.files["extensions.conf"].split("[globals]", 1)[1].split("\n[", 1)[0]
    assert f"{v.OUTBOUND_LIMIT}=7" in globals_ and f"{v.CENTER_NUMBER}=12345" in globals_


def test_without_an_outbound_carrier_nothing_is_dialled():
    context = outbound_context(SiteConfig())
    assert "Dial(" not in context and f"Result: {v.OUT_NO_TRUNK}" in context
