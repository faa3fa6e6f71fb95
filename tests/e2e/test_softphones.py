"""Agent softphones over real SIP: the peer Asterisk registers as the agents with the generated credentials;
log in / out / pause by feature code from the phone and by the desk's AMI functions.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from agent_desk.telephony import agents
from hotline.numberplan import GENERAL_QUEUE
from tests.support import sip
from tests.support.agents import badauth_phone, logged_in, softphones, wait_registered
from tests.support.center import Center
from tests.support.events import named

pytestmark = pytest.mark.asterisk


async def test_softphones_register_with_their_generated_credentials(center: Center) -> None:
    for ext in softphones(center):
        reg = await wait_registered(center, ext)
        assert reg.registered, f"{ext} did not register"
        assert any(f"sip:{ext}@127.0.0.1:" in uri for uri in reg.contacts), reg.contacts
    detail = await center.ami.action_list({"Action": "PJSIPShowEndpoint", "Endpoint": softphones(center)[0]})
    endpoint = next(e for e in detail if e.name == "EndpointDetail")
    assert set(endpoint.get("Allow").strip("()").split("|")) == {"ulaw", "alaw"}, endpoint.get("Allow")
    assert endpoint.get("Context") == "hotline-agents"
    auth = next(e for e in detail if e.name == "AuthDetail")
    assert auth.get("Username") == softphones(center)[0]


async def test_registration_with_a_wrong_password_is_refused(center: Center) -> None:
    ext = badauth_phone(center)
    # The peer's phone tried at start-up; make it try again while we listen.
    await center.peer_ami.action({"Action": "PJSIPRegister", "Registration": f"phone-{ext}"})
    refused = await center.events.wait_for(
        lambda e: e.name in ("ChallengeResponseFailed", "InvalidPassword") and e.get("AccountID") == ext, 15,
        f"the center's security event for {ext}'s bad credential")
    assert refused.get("RemoteAddress", "").startswith("IPV4/UDP/127.0.0.1/")
    await center.peer_events.wait_for(
        lambda e: e.name == "Registry" and e.get("Username", "").startswith(f"sip:{ext}@")
        and e.get("Status") == "Rejected", 15, "the peer sees its registration rejected")
    assert not (await agents.registration(center.ami, ext)).registered
    outbound = await center.peer_ami.action_list({"Action": "PJSIPShowRegistrationsOutbound"})
    status = {e.get("ObjectName"): e.get("Status") for e in outbound if e.name == "OutboundRegistrationDetail"}
    assert status[f"phone-{ext}"] == "Rejected", status
    assert all(status[f"phone-{good}"] == "Registered" for good in softphones(center)), status


async def test_a_contact_outside_the_agent_networks_is_refused_even_with_the_right_password(center: Center) -> None:
    """agents.permit also guards the Contact a phone registers (contact_deny/contact_permit): a REGISTER with the
    right password naming a non-loopback Contact is refused; the same REGISTER naming loopback is accepted."""
    ext = badauth_phone(center)                  # the peer never registers it with the right password
    password = center.secrets.get(f"sip-agent-{ext}")
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.setblocking(False)
        udp.connect(("127.0.0.1", center.site.sip_port))
        here = f"127.0.0.1:{udp.getsockname()[1]}"

        async def send(contact: str, challenge: str | None = None, expires: int = 60) -> str:
            await loop.sock_sendall(udp, sip.register(ext, "UDP", contact, expires, challenge, password).encode())
            while True:
                reply = (await asyncio.wait_for(loop.sock_recv(udp, 65535), 10)).decode()
                if not reply.startswith("SIP/2.0 100"):
                    return reply

        outside = await send("192.0.2.7:5060", await send("192.0.2.7:5060"))
        assert sip.status(outside) in (401, 403), outside
        assert not (await agents.registration(center.ami, ext)).registered
        inside = await send(here, await send(here))
        assert sip.status(inside) == 200, inside
        assert (await agents.registration(center.ami, ext)).registered
        assert sip.status(await send(here, await send(here, expires=0), expires=0)) == 200   # leave no contact
    assert not (await agents.registration(center.ami, ext)).registered


async def _dial_from_phone(center: Center, ext: str, code: str) -> None:
    """The agent dials a feature code on the softphone (the peer) and the center plays the confirmation."""
    cid = center.new_call_id()
    started = center.events.mark()
    await center.peer_ami.originate(f"PJSIP/{code}@phone-{ext}", caller_id=f"<{ext}>", channel_id=cid, data="20")
    await center.events.wait_for(
        lambda e: e.name == "Hangup" and e.get("Channel", "").startswith(f"PJSIP/{ext}-") and e.get("Exten") == code,
        20, f"{ext}'s feature code {code} call ends", since=started)


async def test_feature_codes_log_in_pause_resume_and_log_out(center: Center) -> None:
    ext = softphones(center)[1]
    assert (await wait_registered(center, ext)).registered
    mark = center.events.mark()

    await _dial_from_phone(center, ext, "*11")
    await center.events.wait_for(named("UserEvent", UserEvent="HotlineAgent", Agent=ext, AgentAction="login"), 10,
                                 "the login event", since=mark)
    await center.events.wait_for(named("QueueMemberAdded", Queue=GENERAL_QUEUE, Interface=f"PJSIP/{ext}",
                                       MemberName=f"agent-{ext}"), 10, "member added to the general queue", since=mark)
    member = [m for m in await agents.memberships(center.ami, ext)]
    assert [m.queue for m in member] == center.site.agents.queues_of(ext) == [GENERAL_QUEUE]
    assert not member[0].paused

    await _dial_from_phone(center, ext, "*13")
    await center.events.wait_for(named("QueueMemberPause", Interface=f"PJSIP/{ext}", Paused="1"), 10, "paused",
                                 since=mark)
    assert all(m.paused and m.reason == agents.PAUSE_REASON for m in await agents.memberships(center.ami, ext))

    await _dial_from_phone(center, ext, "*14")
    await center.events.wait_for(named("QueueMemberPause", Interface=f"PJSIP/{ext}", Paused="0"), 10, "resumed",
                                 since=mark)
    assert not any(m.paused for m in await agents.memberships(center.ami, ext))

    await _dial_from_phone(center, ext, "*12")
    await center.events.wait_for(named("QueueMemberRemoved", Queue=GENERAL_QUEUE, Interface=f"PJSIP/{ext}"),
                                 10, "member removed", since=mark)
    assert await agents.memberships(center.ami, ext) == []


async def test_desk_login_pause_and_logout_over_ami_match_the_feature_codes(center: Center) -> None:
    ext = softphones(center)[2]
    queues = [GENERAL_QUEUE, "business-environment"]
    joined = await agents.login(center.ami, ext, queues)
    assert joined == queues
    assert sorted(m.queue for m in await agents.memberships(center.ami, ext)) == sorted(queues)
    assert await agents.login(center.ami, ext, queues) == queues  # logging in twice is harmless
    await agents.pause(center.ami, ext)
    assert all(m.paused for m in await agents.memberships(center.ami, ext))
    await agents.unpause(center.ami, ext)
    assert not any(m.paused for m in await agents.memberships(center.ami, ext))
    # The phone's *12 logs out what the desk logged in: both use the same member.
    await _dial_from_phone(center, ext, "*12")
    assert await agents.memberships(center.ami, ext) == []
    # And the desk logs out what the phone's *11 logged in.
    await _dial_from_phone(center, ext, "*11")
    assert [m.queue for m in await agents.memberships(center.ami, ext)] == [GENERAL_QUEUE]
    assert await agents.logout(center.ami, ext) == [GENERAL_QUEUE]
    assert await agents.memberships(center.ami, ext) == []


async def test_a_logged_in_softphone_answers_a_queued_citizen(center: Center) -> None:
    from tests.support.agents import citizen_reaches_agent, hang_up_call

    ext = softphones(center)[0]
    async with logged_in(center, ext):
        call = await citizen_reaches_agent(center, ext)
        await center.peer_events.wait_for(
            lambda e: e.name == "Newchannel" and e.get("Channel", "").startswith(f"PJSIP/phone-{ext}-"), 10,
            "the peer's softphone endpoint gets the call over SIP")
        assert call.agent_channel.startswith(f"PJSIP/{ext}-")
        await hang_up_call(center, call)
