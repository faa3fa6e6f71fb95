"""Pure parts of agent control: pause reason codes, skills validation, ChanSpy options, and the order of AMI
actions a login with skills sends (against a scripted AMI that refuses anything it was not told to expect)."""

from __future__ import annotations

import pytest

from agent_desk.telephony import agents as ag
from agent_desk.telephony import spy as sp
from agent_desk.telephony.transfers import is_agent_call_channel
from hotline import confgen
from hotline.ami import AmiError, AmiEvent
from hotline.numberplan import load_plan
from hotline.site import DEFAULT_PAUSE_REASONS, SiteConfig
from tests.unit.golden import PLAN, FixedSecrets

plan = load_plan(PLAN)


# ── pause reasons ────────────────────────────────────────────────────────────
def test_the_default_pause_reasons_are_the_centers_usual_ones():
    site = SiteConfig()
    labels = ag.pause_reasons(site)
    assert set(labels.values()) >= {"小休", "就餐", "培训", "会议", "事后处理", "质检辅导"}
    assert labels[site.agents.pause_default] == "小休"


def test_a_pause_without_a_reason_takes_the_sites_default_and_unknown_codes_are_refused():
    site = SiteConfig.model_validate({"agents": {"pause_reasons": {"rest": "休息", "study": "学习"},
                                                 "pause_default": "study"}})
    assert ag.check_reason(site, None) == ag.check_reason(site, "") == "study"
    assert ag.check_reason(site, "rest") == "rest"
    with pytest.raises(ag.AgentSettingError) as refused:
        ag.check_reason(site, "training")            # a default code this site does not have
    assert refused.value.code == "unknown_pause_reason" and "training" in refused.value.message
    assert ag.reason_label(site, "rest") == "休息"
    assert ag.reason_label(site, "set-by-someone-else") == "set-by-someone-else"


@pytest.mark.parametrize("agents", [{"pause_default": "nap"}, {"pause_reasons": {}},
                                    {"pause_reasons": {"Bad Code": "x"}}])
def test_the_site_refuses_inconsistent_pause_reasons(agents):
    with pytest.raises(ValueError):
        SiteConfig.model_validate({"agents": agents})


def _extensions_conf(site: SiteConfig) -> str:
    secrets = FixedSecrets(confgen.secret_names(site, plan))
    return confgen.render(plan, site, secrets).files["extensions.conf"]  # type: ignore[arg-type]


def test_the_pause_feature_code_pauses_with_the_sites_default_reason():
    assert "PauseQueueMember(,PJSIP/${CHANNEL(endpoint)},,break)" in _extensions_conf(SiteConfig())
    custom = SiteConfig.model_validate({"agents": {"pause_reasons": {**DEFAULT_PAUSE_REASONS, "rest": "休息"},
                                                   "pause_default": "rest"}})
    conf = _extensions_conf(custom)
    assert "PauseQueueMember(,PJSIP/${CHANNEL(endpoint)},,rest)" in conf and ",,break)" not in conf


# ── skills ───────────────────────────────────────────────────────────────────
def test_skills_are_checked_against_the_number_plan():
    skills = ag.check_skills(plan, [{"queue": "province", "penalty": 2}, {"queue": "expert-12320"},
                                    {"queue": "sp-469002", "penalty": 0}])
    assert skills == [ag.Skill("province", 2), ag.Skill("expert-12320", 0), ag.Skill("sp-469002", 0)]


@pytest.mark.parametrize("items,code", [
    ([{"queue": "nosuch"}], "unknown_queue"),
    ([{"queue": "general"}], "unknown_queue"),              # queues.conf's settings section, not a queue
    ([{"queue": "leaders"}, {"queue": "leaders", "penalty": 1}], "duplicate_queue"),
    ([{"queue": "leaders", "penalty": -1}], "bad_penalty"),
    ([{"queue": "leaders", "penalty": ag.MAX_PENALTY + 1}], "bad_penalty"),
    ([{"queue": "leaders", "penalty": "3"}], "bad_penalty"),
    ([{"queue": "leaders", "penalty": True}], "bad_penalty"),
    ([], "no_queue"),
])
def test_bad_skills_are_refused_with_a_chinese_message(items, code):
    with pytest.raises(ag.AgentSettingError) as refused:
        ag.check_skills(plan, items)
    assert refused.value.code == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in refused.value.message)


def test_without_stored_skills_an_agent_serves_the_sites_membership():
    site = SiteConfig.model_validate({"agents": {"count": 3, "membership": {"8002": ["province", "leaders"]}}})
    assert ag.default_skills(site, "8001") == [ag.Skill("province")]
    assert ag.default_skills(site, "8002") == [ag.Skill("province"), ag.Skill("leaders")]
    with pytest.raises(ValueError):
        ag.default_skills(site, "9999")


# ── ChanSpy ──────────────────────────────────────────────────────────────────
@pytest.mark.parametrize("mode,options", [("listen", "qES"), ("whisper", "qESw"), ("barge", "qESB")])
def test_chanspy_options_per_mode(mode, options):
    assert sp.chanspy_options(mode) == options
    assert sp.chanspy_data("PJSIP/8001-0000002b", mode) == f"PJSIP/8001-0000002b,{options}"


@pytest.mark.parametrize("channel", ["", "PJSIP/8001-1,B", "SIP/8001-1", "PJSIP/8001-1 x", "Local/x", "PJSIP/8001-1|q"])
def test_only_a_pjsip_channel_name_without_separators_is_spied_on(channel):
    with pytest.raises(ValueError):
        sp.chanspy_data(channel, "listen")


def test_unknown_modes_are_refused():
    with pytest.raises(ValueError):
        sp.chanspy_options("record")


def test_the_agents_call_channel_is_its_bridged_softphone_leg():
    def ch(name, bridge="b1", app="AppQueue"):
        return {"Channel": name, "BridgeId": bridge, "Application": app}
    assert is_agent_call_channel(ch("PJSIP/8001-00000001"), "8001")
    assert not is_agent_call_channel(ch("PJSIP/80011-00000001"), "8001")     # another extension
    assert not is_agent_call_channel(ch("PJSIP/8001-00000001", bridge=""), "8001")  # ringing, not bridged
    assert not is_agent_call_channel(ch("PJSIP/8001-00000001", app="ChanSpy"), "8001")  # itself spying
    assert not is_agent_call_channel(ch("PJSIP/carrier-00000001"), "8001")


# ── the AMI actions of a login with skills ───────────────────────────────────
class ScriptedAmi:
    """Answers exactly the actions it is given, in order; anything else fails the test."""

    def __init__(self, script):
        self.script = list(script)

    def _next(self, action: dict):
        assert self.script, f"unexpected action {action}"
        expected, answer = self.script.pop(0)
        got = {k: action.get(k) for k in expected}
        assert got == expected, f"expected {expected}, got {action}"
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def action(self, action: dict, timeout: float = 10.0) -> dict:
        return self._next(action)

    async def action_list(self, action: dict, timeout: float = 10.0) -> list[AmiEvent]:
        return self._next(action)


def member(queue: str, penalty: int = 0) -> AmiEvent:
    return AmiEvent("QueueMember", {"Queue": queue, "Location": "PJSIP/8001", "Paused": "0", "PausedReason": "",
                                    "Status": "1", "InCall": "0", "Penalty": str(penalty)})


async def test_a_login_with_skills_leaves_queues_taken_away_and_sets_penalties():
    ami = ScriptedAmi([
        ({"Action": "QueueStatus"}, [member("province", 3), member("leaders")]),
        ({"Action": "QueueRemove", "Queue": "leaders", "Interface": "PJSIP/8001"}, {"Response": "Success"}),
        ({"Action": "UserEvent", "AgentAction": "logout", "Queues": "leaders"}, {"Response": "Success"}),
        ({"Action": "QueueAdd", "Queue": "province", "Penalty": "0", "MemberName": "agent-8001"},
         AmiError("QueueAdd: Unable to add interface: Already there")),
        ({"Action": "QueuePenalty", "Queue": "province", "Interface": "PJSIP/8001", "Penalty": "0"},
         {"Response": "Success"}),
        ({"Action": "QueueAdd", "Queue": "expert-12320", "Penalty": "5", "Paused": "false"}, {"Response": "Success"}),
        ({"Action": "UserEvent", "AgentAction": "login", "Queues": "province&expert-12320"}, {"Response": "Success"}),
    ])
    joined = await ag.login_with_skills(ami, "8001", [ag.Skill("province", 0), ag.Skill("expert-12320", 5)])
    assert joined == ["province", "expert-12320"]
    assert ami.script == []


async def test_memberships_carry_penalty_and_reason():
    ami = ScriptedAmi([({"Action": "QueueStatus"}, [
        AmiEvent("QueueMember", {"Queue": "leaders", "Location": "PJSIP/8002", "Paused": "1",
                                 "PausedReason": "training", "Status": "1", "InCall": "0", "Penalty": "7"}),
        AmiEvent("QueueMember", {"Queue": "leaders", "Location": "Local/x@y", "Paused": "0"}),
    ])])
    [m] = await ag.memberships(ami)
    assert (m.extension, m.queue, m.paused, m.reason, m.penalty) == ("8002", "leaders", True, "training", 7)
