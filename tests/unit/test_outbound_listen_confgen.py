"""The live transcript of an agent's 回拨 in the generated dialplan: once the citizen answers, Dial's U() starts
both sides' listening legs under the call's OUT_ID; an automated 回访 (no HOTLINE_LIVE) and a site without the
live transcript start none."""

from __future__ import annotations

import re

from agent_desk.callbacks import dialer as d
from agent_desk.callbacks.rules import CallbackPolicy
from hotline import channelvars as v
from hotline import confgen
from hotline.numberplan import load_plan
from hotline.site import SiteConfig
from tests.unit.golden import PLAN, FixedSecrets

CARRIER = {"host": "192.0.2.10"}


def extensions(site: SiteConfig) -> str:
    plan = load_plan(PLAN)
    return confgen.render(plan, site, FixedSecrets(confgen.secret_names(site, plan))).files["extensions.conf"]  # type: ignore[arg-type]


def context(text: str, name: str) -> str | None:
    match = re.search(rf"^\[{name}\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M)
    return None if match is None else "\n".join(line for line in match.group(1).splitlines()
                                                if line.strip() and not line.startswith(";"))


def test_an_answered_callback_starts_both_sides_legs_under_its_out_id_before_the_bridge():
    text = extensions(SiteConfig.model_validate({"carrier": CARRIER}))
    outbound = context(text, v.CTX_OUTBOUND)
    assert outbound is not None
    # U() (run on the citizen's channel once it answered, before the bridge) only for a call marked LIVE
    options = f'Set(OUT_OPTS=${{IF($["${{{v.LIVE}}}" = "1"]?U({v.CTX_OUTBOUND_LISTEN}^${{CHANNEL}}^${{{v.OUT_ID}}}))}})'
    assert options in outbound
    assert outbound.index(options) < outbound.index("Dial(PJSIP/${OUT_N}@carrier,")
    assert re.search(r"Dial\(PJSIP/\$\{OUT_N\}@carrier,[^\n]*,\$\{OUT_OPTS\}\)$", outbound, re.M)
    listen = context(text, v.CTX_OUTBOUND_LISTEN)
    assert listen is not None
    agent, citizen, back = listen.splitlines()
    # the agent's leg first (its AGI marks the call answered), each leg spying on its own side, asynchronously
    assert agent.startswith(f"exten => s,1,Originate(Local/agent@{v.CTX_LISTEN}/n,exten,{v.CTX_LISTEN},run,1,10,a")
    assert f"{v.SPY}=${{ARG1}}^{v.SIDE}=agent^{v.CALL_ID}=${{ARG2}}" in agent
    assert citizen.startswith(f" same => n,Originate(Local/citizen@{v.CTX_LISTEN}/n,exten,{v.CTX_LISTEN},run,1,10,a")
    assert f"{v.SPY}=${{CHANNEL}}^{v.SIDE}=citizen^{v.CALL_ID}=${{ARG2}}" in citizen
    assert back.strip() == "same => n,Return()"
    # the legs are the inbound calls' own ([hotline-listen] → AGI route listen), not a second pipeline
    assert context(text, v.CTX_LISTEN) is not None


def test_a_site_without_the_live_transcript_dials_without_listening():
    text = extensions(SiteConfig.model_validate({"carrier": CARRIER, "intake": {"live_transcript": False}}))
    outbound = context(text, v.CTX_OUTBOUND)
    assert outbound is not None and "Set(OUT_OPTS=)" in outbound and "U(" not in outbound
    assert context(text, v.CTX_OUTBOUND_LISTEN) is None


def test_the_agents_callback_is_marked_live_and_named_so_the_desk_finds_it():
    action = d.originate_action("cb-0123456789abcdef0123", "8001", "13800138000", CallbackPolicy())
    assert f"{v.LIVE}=1" in action["Variable"]
    assert d.new_out_id().startswith(v.CALLBACK_ID_PREFIX)
