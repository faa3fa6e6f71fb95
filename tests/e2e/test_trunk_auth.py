"""Trunks log in: nobody reaches the inbound dialplan without a trunk's generated credential, from its network.

Raw SIP INVITEs (tests/support/sip.py) play the forger: From user = a trunk's endpoint name, or a made-up one,
without a password, with a wrong one, or from an address the trunk's ACL does not permit. The peer Asterisk
plays the real carrier and sub-centers, logged in with the generated secrets. Caller IDs from the network
arrive filtered, and one source address may hold only the site's number of calls at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid

import pytest

from hotline import channelvars as v
from hotline.ami import AmiError
from tests.support.center import Center
from tests.support.events import named, var_set
from tests.support.sip import UdpInvite, status

pytestmark = pytest.mark.asterisk

CITIZEN = "13907550001"


def endpoint_names(center: Center) -> list[str]:
    return [center.site.carrier.username] + [f"trunk-{name}" for name in center.plan.trunks]


def new_channels_of(center: Center, endpoint: str, since: float) -> list:
    return center.events.find(lambda e: e.name in ("Newchannel", "QueueCallerJoin") and e.received > since
                              and e.get("Channel", "").startswith(f"PJSIP/{endpoint}-"))


async def invite(center: Center, from_user: str, **kwargs) -> str:
    return (await invite_call(center, from_user, **kwargs))[0]


async def invite_call(center: Center, from_user: str, **kwargs) -> tuple[str, str]:
    """The final response to a raw INVITE, and its Call-ID."""
    call = UdpInvite(center.site.sip_port, from_user, source=kwargs.pop("source", "127.0.0.1"),
                     **{k: kwargs.pop(k) for k in ("number", "display", "headers") if k in kwargs})
    try:
        return await asyncio.to_thread(call.send, **kwargs), call.call_id
    finally:
        call.close()


async def test_no_trunk_accepts_a_call_without_its_password(center: Center) -> None:
    started = time.monotonic()
    made_up = f"trunk-{uuid.uuid4().hex[:8]}"
    for name in endpoint_names(center) + [made_up, "anonymous"]:
        response = await invite(center, name)
        assert status(response) in (401, 403, 404), (name, response.splitlines()[0])
        response = await invite(center, name, password="not-the-generated-password",
                                username=name.removeprefix("trunk-"))
        assert status(response) in (401, 403, 404), (name, response.splitlines()[0])
    await asyncio.sleep(1)  # any channel the center created would have been announced by now
    for name in endpoint_names(center) + [made_up, "anonymous"]:
        assert not new_channels_of(center, name, started), name
    assert not center.events.find(lambda e: e.name == "Newchannel" and e.received > started
                                  and e.get("Context") == v.CTX_INBOUND)


async def test_a_trunk_refuses_its_own_password_from_an_address_it_does_not_permit(center: Center) -> None:
    """127.0.0.2 is loopback too, but not the trunk's host: the endpoint's ACL refuses the request before the
    login is checked (PJSIP then challenges as for an unknown endpoint, so a forger learns nothing)."""
    started = time.monotonic()
    carrier = center.site.carrier.username
    attempts = [(f"trunk-{name}", name, center.secrets.get(f"sip-trunk-{name}")) for name in center.plan.trunks]
    attempts.append((carrier, carrier, center.secrets.get(f"sip-{carrier}")))
    for endpoint, username, password in attempts:
        response, call_id = await invite_call(center, endpoint, source="127.0.0.2", username=username,
                                              password=password)
        assert status(response) in (401, 403), (endpoint, response.splitlines()[0])
        assert f"(callid: {call_id}) - Not match Endpoint ACL" in center.messages_log(), endpoint
    await asyncio.sleep(1)
    for endpoint, _, _ in attempts:
        assert not new_channels_of(center, endpoint, started), endpoint


async def test_a_logged_in_trunk_reaches_the_ivr(center: Center) -> None:
    """The peer calls 12345 as the 12366 sub-center's trunk, logged in with the generated trunk secret."""
    cid = center.new_call_id()
    await center.peer_ami.originate("PJSIP/12345@subcenter-12366", caller_id=f"<{CITIZEN}>", channel_id=cid)
    tagged = await center.events.wait_for(
        lambda e: var_set(v.LINE, "12345")(e) and e.get("Channel").startswith("PJSIP/trunk-subcenter-12366-"),
        25, "a call on the 12366 trunk tagged 12345")
    await center.events.wait_for(named("AGIExecStart", linkedid=tagged["Linkedid"]), 25, "the IVR runs")
    await center.peer_ami.hangup(next(e for e in center.peer_events.events
                                      if e.name == "Newchannel" and e.get("Uniqueid") == cid)["Channel"])
    await center.events.wait_for(named("Hangup", linkedid=tagged["Linkedid"]), 15, "the call ends")


async def test_network_caller_id_reaches_the_dialplan_filtered(center: Center) -> None:
    """The carrier (trusted for P-Asserted-Identity) sends a number with a comma and an encoded CR/LF and a
    name with separators: an unknown dialed number announces the caller in a UserEvent, which must carry the
    digits only and no injected field."""
    started = time.monotonic()
    carrier = center.site.carrier.username
    payload = "139%2C0755%0D%0AEvil:%20x"
    response = await invite(center, carrier, number="99998", password=center.secrets.get(f"sip-{carrier}"),
                            headers=(f'P-Asserted-Identity: "市民,张三;x=<1>" <sip:{payload}@127.0.0.1>',))
    assert status(response) == 200, response.splitlines()[0]
    event = await center.events.wait_for(
        lambda e: named("UserEvent", UserEvent="HotlineUnknownNumber")(e) and e.received > started, 15,
        "the unknown-number announcement")
    try:
        # The channel's own CallerIDNum and the one the dialplan passed: both filtered.
        # (the AMI client keeps a repeated key as the text of a list)
        numbers = event.get("CallerIDNum")
        assert set(re.findall(r"'([^']*)'", numbers) or [numbers]) == {"1390755"}, event
        assert not any(key.lower().startswith("evil") for key in event.fields), event
        screened = await center.events.wait_for(
            lambda e: e.name == "VarSet" and e.get("Variable") == v.SCREENED and e.received > started, 5,
            "the screen ran")
        after = await center.events.wait_for(
            lambda e: e.get("Uniqueid") == screened.get("Uniqueid") and e.name == "Newexten"
            and e.get("Application") == "Log", 5, "the dialplan after the screen")
        assert after.get("CallerIDNum") == "1390755", after
        assert after.get("CallerIDName") == "市民张三x1", after
        # Asterisk announces the channel before any dialplan runs: the encoded CR/LF must not split that event.
        created = next(e for e in center.events.events
                       if e.name == "Newchannel" and e.get("Uniqueid") == screened.get("Uniqueid"))
        assert not any(key.lower().startswith("evil") for key in created.fields), created
    finally:
        await center.ami.hangup(event["Channel"])


async def test_one_source_may_hold_only_the_sites_number_of_calls(center: Center) -> None:
    center.apply_site(inbound_calls_per_source=1)
    first, second = center.new_call_id(), center.new_call_id()
    started = time.monotonic()
    try:
        await center.peer_ami.originate("PJSIP/12345@center", caller_id=f"<{CITIZEN}>", channel_id=first)
        held = await center.events.wait_for(
            lambda e: var_set(v.SOURCE, "127.0.0.1")(e) and e.get("Channel").startswith("PJSIP/carrier-")
            and e.received > started,
            25, "the first call is counted for 127.0.0.1")
        await center.events.wait_for(named("AGIExecStart", linkedid=held["Linkedid"]), 25, "the first call's IVR")
        mark = time.monotonic()
        await center.peer_ami.originate("PJSIP/12345@center", caller_id=f"<{CITIZEN}>", channel_id=second)
        refused = await center.events.wait_for(
            lambda e: e.name == "Hangup" and e.received > mark and e.get("Channel").startswith("PJSIP/carrier-"),
            15, "the second call from the same address is hung up")
        assert refused.get("Cause") == "34", refused
        assert not center.events.find(lambda e: e.get("Uniqueid") == refused.get("Uniqueid") and (
            e.name == "AGIExecStart" or (e.name == "Newexten" and e.get("Application") == "Answer")))
        await center.peer_events.wait_for(named("Hangup", Uniqueid=second), 10, "the peer sees the refusal")
    finally:
        for cid in (first, second):
            channel = next((e["Channel"] for e in center.peer_events.events
                            if e.name == "Newchannel" and e.get("Uniqueid") == cid), None)
            if channel:
                with contextlib.suppress(AmiError):  # already gone
                    await center.peer_ami.hangup(channel)
        center.apply_site(inbound_calls_per_source=100)
