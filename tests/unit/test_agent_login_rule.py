"""签入 needs a registered phone, for an agent signing itself in and for a supervisor signing an agent in alike
(坐席管理 disables 签入 for the same reason): refused with a Chinese message before any queue is touched (against a
scripted AMI that fails the test on any action it was not told to expect)."""

from __future__ import annotations

import pytest

from agent_desk.api import agents as api_agents
from agent_desk.errors import DeskError
from agent_desk.telephony.link import TelephonyLink
from hotline.numberplan import load_plan
from hotline.site import SiteConfig
from tests.unit.golden import PLAN
from tests.unit.test_agent_control import ScriptedAmi


@pytest.mark.parametrize("queues", [None, ["province"]])
async def test_a_login_without_a_registered_phone_is_refused_before_any_queue(queues):
    ami = ScriptedAmi([({"Action": "Getvar", "Variable": "PJSIP_AOR(8001,contact)"}, {"Value": ""})])
    link = TelephonyLink(ami, load_plan(PLAN), SiteConfig())   # type: ignore[arg-type]
    with pytest.raises(DeskError) as refused:
        await api_agents._login(link, None, "8001", queues)   # type: ignore[arg-type]  # no session is reached
    assert refused.value.status == 409 and refused.value.code == "phone_not_registered"
    assert refused.value.message.startswith("分机8001的话机未注册，不能签入")
    assert ami.script == []   # asked about the phone, and nothing else: no QueueAdd


async def test_a_registered_phone_is_asked_about_before_the_login():
    """The check is the same registration 坐席管理 shows (PJSIP contacts): a contact with a URI is registered, and
    the login goes on to the skills (which need the database: the scripted AMI stops the test there)."""
    ami = ScriptedAmi([
        ({"Action": "Getvar", "Variable": "PJSIP_AOR(8001,contact)"}, {"Value": "8001;@abc"}),
        ({"Action": "Getvar", "Variable": "PJSIP_CONTACT(8001;@abc,uri)"}, {"Value": "sip:8001@127.0.0.1:5070"}),
        ({"Action": "Getvar", "Variable": "PJSIP_CONTACT(8001;@abc,user_agent)"}, {"Value": "JsSIP"}),
    ])
    link = TelephonyLink(ami, load_plan(PLAN), SiteConfig())   # type: ignore[arg-type]
    with pytest.raises(AttributeError):   # past the rule: skills_of reads the (absent) session
        await api_agents._login(link, None, "8001", None)   # type: ignore[arg-type]
    assert ami.script == []
