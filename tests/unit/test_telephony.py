"""Pure parts of agent_desk.telephony and the agent/transfer configuration it relies on."""

from __future__ import annotations

import pytest

from agent_desk.telephony import (Outcome, TransferKind, TransferResult, member_interface, member_name,
                                  queues_for, recording_path)
from agent_desk.telephony.transfers import (TransferError, dial_outcome, failure_outcome, originate_outcome,
                                            transfer_line)
from hotline import confgen, secrets, sounds
from hotline.numberplan import LineClass, load_plan
from hotline.site import SiteConfig
from ivr import prompts
from tests.unit.golden import PLAN, FixedSecrets

plan = load_plan(PLAN)


def render(**agents):
    site = SiteConfig.model_validate({"agents": {"count": 3, **agents}})
    return confgen.render(plan, site, FixedSecrets(confgen.secret_names(site, plan))).files  # type: ignore[arg-type]


@pytest.mark.parametrize("response,reason,expected", [
    ("Success", "4", (Outcome.ANSWERED, "ANSWER")),
    ("Failure", "3", (Outcome.NO_ANSWER, "NOANSWER")),
    ("Failure", "5", (Outcome.BUSY, "BUSY")),
    ("Failure", "8", (Outcome.FAILED, "CONGESTION")),
    ("Failure", "0", (Outcome.FAILED, "CHANUNAVAIL")),
    ("Failure", "", (Outcome.FAILED, "CHANUNAVAIL")),
])
def test_originate_response_maps_to_an_outcome(response, reason, expected):
    assert originate_outcome(response, reason) == expected


@pytest.mark.parametrize("cause,expected", [("17", Outcome.BUSY), ("19", Outcome.NO_ANSWER), ("21", Outcome.FAILED),
                                            ("34", Outcome.FAILED), (None, Outcome.FAILED), ("x", Outcome.FAILED)])
def test_the_far_legs_hangup_cause_tells_busy_from_congestion(cause, expected):
    # Asterisk reports Reason 0 for a busy and for a congested direct channel alike.
    assert failure_outcome("0", cause)[0] == expected


def test_dial_statuses():
    assert dial_outcome("ANSWER") == Outcome.ANSWERED
    assert dial_outcome("BUSY") == Outcome.BUSY
    assert dial_outcome("NOANSWER") == Outcome.NO_ANSWER
    assert dial_outcome("CANCEL") == Outcome.CITIZEN_GONE
    assert dial_outcome("CHANUNAVAIL") == dial_outcome("???") == Outcome.FAILED


def test_transfer_targets_come_from_the_plan():
    assert transfer_line(plan, "12366").trunk == "subcenter-12366"  # type: ignore[attr-defined]
    assert transfer_line(plan, "110", LineClass.EMERGENCY).department == "海南省公安厅"
    with pytest.raises(TransferError):
        transfer_line(plan, "12345")          # no trunk: not a transfer target
    with pytest.raises(TransferError):
        transfer_line(plan, "99999")
    with pytest.raises(TransferError):
        transfer_line(plan, "12366", LineClass.EMERGENCY)


def test_result_carries_what_the_desk_needs():
    result = TransferResult("c1", TransferKind.THREE_WAY, "12366", "纳税服务热线", "国家税务总局海南省税务局",
                            "subcenter-12366", Outcome.NO_ANSWER, 100.0, 131.0, dial_status="NOANSWER",
                            fallback="agent", agent="8001")
    data = result.as_dict()
    assert data["outcome"] == "no_answer" and data["kind"] == "three_way" and data["connected"] is False
    assert data["department"] == "国家税务总局海南省税务局" and data["setup_seconds"] is None
    fields = result.event_fields()
    assert fields == {"CallID": "c1", "Kind": "three_way", "Target": "12366", "Outcome": "no_answer",
                      "DialStatus": "NOANSWER", "Fallback": "agent", "Conference": "", "Agent": "8001",
                      "Trunk": "subcenter-12366", "SetupMs": "", "TransferID": result.id}
    assert len(result.id) == 16 and TransferResult("c1", TransferKind.BLIND, "8002", "", "", "", Outcome.FAILED,
                                                   1.0, 1.0).id != result.id  # one id per hand-off
    bridged = TransferResult("c1", TransferKind.THREE_WAY, "12366", "", "", "", Outcome.BRIDGED, 100.0, 101.0,
                             answered_at=100.2, bridged_at=100.25)
    assert bridged.connected and abs(bridged.setup_seconds - 0.25) < 1e-9
    assert bridged.event_fields()["SetupMs"] == "250"


def test_queue_membership_is_data_and_feature_codes_use_it():
    site = SiteConfig.model_validate({"agents": {"count": 3, "membership": {"8002": ["province", "expert-12320"]}}})
    assert queues_for(site, "8001") == ["province"]
    assert queues_for(site, "8002") == ["province", "expert-12320"]
    with pytest.raises(ValueError):
        queues_for(site, "9001")
    ext = render(membership={"8002": ["province", "expert-12320"]})["extensions.conf"]
    assert "exten => 8002,1,Set(AGENTQ_LIST=province&expert-12320)" in ext
    assert "exten => _X.,1,Set(AGENTQ_LIST=province)" in ext
    # The dialplan adds the very member the desk's AMI login adds.
    assert f"AddQueueMember(${{AGENTQ_Q}},{member_interface('${AGENTQ_EXT}')},,,{member_name('${AGENTQ_EXT}')}," in ext
    for code in ("*11", "*12", "*13", "*14"):
        assert f"exten => {code},1,Answer()" in ext


def test_a_membership_naming_an_unknown_queue_or_agent_is_refused():
    with pytest.raises(ValueError, match="no-such-queue"):
        render(queues=["no-such-queue"])
    with pytest.raises(ValueError, match="9999"):
        render(membership={"9999": ["province"]})


def test_agent_endpoints_register_from_loopback_only_with_8khz_codecs():
    pjsip = render()["pjsip.conf"]
    template = pjsip.split("[agent-softphone](!)\n")[1].split("\n\n")[0]
    assert "deny=0.0.0.0/0.0.0.0" in template and "permit=127.0.0.1/255.255.255.255" in template
    assert "contact_deny=0.0.0.0/0.0.0.0" in template and "contact_permit=127.0.0.1/255.255.255.255" in template
    assert "[8001](telephony-endpoint,agent-softphone)" in pjsip
    assert "allow=alaw,ulaw" in pjsip.split("[telephony-endpoint](!)")[1].split("\n\n")[0]
    assert "webrtc" not in pjsip and "transport-wss" not in pjsip


def test_webrtc_agents_get_a_websocket_transport_and_dtls():
    pjsip = render(webrtc=True)["pjsip.conf"]
    assert "[transport-wss]\ntype=transport\nprotocol=wss\nbind=127.0.0.1" in pjsip
    template = pjsip.split("[agent-softphone](!)\n")[1].split("\n\n")[0]
    assert "webrtc=yes" in template and "dtls_auto_generate_cert=yes" in template
    agent = pjsip.split("[8001](telephony-endpoint,agent-softphone)\n")[1].split("\n\n")[0]
    assert "transport=" not in agent  # a browser reaches it over the websocket, not UDP


def test_webrtc_turns_on_https_with_the_generated_certificate_and_nothing_without_it():
    files = render(webrtc=True)
    http = files["http.conf"]
    assert "tlsenable = yes" in http and "tlsbindaddr = 127.0.0.1:8089" in http
    assert f"tlscertfile = /srv/hotline/main/etc/{confgen.TLS_FILE}" in http
    assert files[confgen.TLS_FILE] == f"golden-{confgen.TLS_SECRET}\n"
    plain = render()
    assert "tls" not in plain["http.conf"] and confgen.TLS_FILE not in plain


def test_a_site_certificate_replaces_the_generated_one_and_a_bad_one_is_refused(tmp_path):
    pem = tmp_path / "site.pem"
    pem.write_text(secrets.self_signed_pem(days=1))
    site = SiteConfig.model_validate({"agents": {"count": 1, "webrtc": True}, "tls_certificate": str(pem)})
    names = confgen.secret_names(site, plan)
    assert confgen.TLS_SECRET not in names
    files = confgen.render(plan, site, FixedSecrets(names)).files  # type: ignore[arg-type]
    assert files[confgen.TLS_FILE] == pem.read_text()
    pem.write_text("-----BEGIN CERTIFICATE-----\nonly a certificate\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError, match="private key"):
        confgen.render(plan, site, FixedSecrets(names))  # type: ignore[arg-type]
    missing = site.model_copy(update={"tls_certificate": str(tmp_path / "none.pem")})
    with pytest.raises(ValueError, match="cannot read"):
        confgen.render(plan, missing, FixedSecrets(names))  # type: ignore[arg-type]


def test_the_generated_certificate_serves_loopback_and_its_key_matches(tmp_path):
    import ssl

    store = secrets.SecretStore(tmp_path / "secrets")
    assert store.ensure([confgen.TLS_SECRET]) == [confgen.TLS_SECRET]
    assert store.ensure([confgen.TLS_SECRET]) == []          # never regenerated
    path = store.path(confgen.TLS_SECRET)
    assert path.stat().st_mode & 0o777 == 0o600
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(path)                            # raises if the key does not match the certificate
    client = ssl.create_default_context(cafile=str(path))
    assert client.cert_store_stats()["x509"] == 1


def test_retained_seat_transfer_notice_is_chinese_and_says_the_call_is_recorded():
    catalogue = prompts.catalogue(plan)
    assert prompts.RETAINED_NOTICE_PATTERN not in catalogue
    for number in ("12348", "12333"):
        text = catalogue[sounds.transfer_notice(number)]
        assert number in text and "录音" in text and plan.line(number).name in text
    for prompt in (sounds.AGENT_LOGGED_IN, sounds.AGENT_LOGGED_OUT, sounds.AGENT_PAUSED, sounds.AGENT_UNPAUSED):
        assert catalogue[prompt]


def test_recording_file_is_named_by_call_id():
    assert recording_path("/srv/x/spool/monitor/", "1700000000.12") == "/srv/x/spool/monitor/1700000000.12.wav"
    assert recording_path("/r", "../etc/passwd") == "/r/.._etc_passwd.wav"


def test_a_recording_with_no_sound_is_not_offered(tmp_path):
    """The day the recordings disk is full Asterisk leaves an empty file (or a bare header): the desk treats it as
    no recording, so the agent is told it is unavailable instead of being handed a broken file."""
    from agent_desk.settings import DeskSettings
    from agent_desk.telephony.recording import WAV_HEADER_BYTES, host_file

    settings = DeskSettings("sqlite://", "redis://", recordings_dir="/srv/x/spool/monitor",
                            recordings_host_dir=str(tmp_path))
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "header.wav").write_bytes(b"R" * WAV_HEADER_BYTES)
    (tmp_path / "spoken.wav").write_bytes(b"R" * (WAV_HEADER_BYTES + 320))
    assert host_file(settings, "/srv/x/spool/monitor/empty.wav") is None
    assert host_file(settings, "/srv/x/spool/monitor/header.wav") is None
    assert host_file(settings, "/srv/x/spool/monitor/missing.wav") is None
    assert host_file(settings, "/srv/x/spool/monitor/spoken.wav") == (tmp_path / "spoken.wav").resolve()
