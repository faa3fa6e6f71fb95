"""Browser softphones (网页电话) in a cluster (issue 15, point 3): they register with Kamailio over SIP on a
WebSocket, and every node reaches them through it, as SIP phones; the node keeps the WebRTC media settings.

A browser's own call (an extension, a transfer target, a feature code) goes to a node as a SIP phone's does.
A site without browser phones renders exactly as before (tests/unit/test_cluster_config.py's golden files).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from agent_desk.telephony.softphone import BrowserPhones
from hotline import confgen
from hotline.confgen import cluster
from hotline.numberplan import load_plan
from hotline.secrets import SecretStore
from hotline.site import SiteConfig
from tests.unit.golden import PLAN, FixedSecrets
from tests.unit.test_cluster_config import EXAMPLE

WEBRTC = {**EXAMPLE, "agents": {"webrtc": True},
          "cluster": {**EXAMPLE["cluster"], "ws_port": 8188, "wss_port": 8189}}


def webrtc_site(**changes) -> SiteConfig:
    return SiteConfig.model_validate({**WEBRTC, **changes})


def render(site: SiteConfig) -> dict[str, confgen.Rendered]:
    plan = load_plan(PLAN)
    return cluster.render_cluster(plan, site, FixedSecrets(confgen.secret_names(site, plan)))  # type: ignore[arg-type]


def section(text: str, start: str) -> str:
    return text.split(start)[1].split("\n}\n")[0]


def test_the_proxy_takes_browsers_on_its_websocket_ports_with_the_sites_certificate():
    files = render(webrtc_site())[cluster.PROXY].files
    cfg = files["kamailio.cfg"]
    assert "listen=tcp:127.0.0.1:8188\nlisten=tls:127.0.0.1:8189\nenable_tls=yes\n" in cfg
    for module in ("tls", "xhttp", "websocket", "nathelper"):
        assert f'loadmodule "{module}.so"' in cfg
    # the certificate the nodes' HTTPS server would present (here the test's fixed secret), next to kamailio.cfg
    assert files[confgen.TLS_FILE] == "golden-tls-asterisk-http\n"
    assert f'modparam("tls", "certificate", "/srv/hotline/kamailio/{confgen.TLS_FILE}")' in cfg
    # the handshake: the browser ports only, the agents' networks only, path /ws
    handshake = section(cfg, "event_route[xhttp:request] {")
    assert "$Rp != 8188 && $Rp != 8189" in handshake and 'is_in_subnet("$si", "127.0.0.1/32")' in handshake
    assert '$hu == "/ws"' in handshake and "ws_handle_handshake()" in handshake


def test_a_browsers_calls_and_requests_go_back_over_its_own_connection():
    cfg = render(webrtc_site())[cluster.PROXY].files["kamailio.cfg"]
    # REGISTER: the connection's address kept as the contact's received; lookup() sends calls there
    assert 'modparam("nathelper|registrar", "received_avp", "$avp(RECEIVED)")' in cfg
    browser = section(cfg, "route[FROM_BROWSER] {")
    assert browser.index("fix_nated_register()") < browser.index("add_contact_alias()")
    # its new calls go on as a SIP phone's (FROM_AGENT: login, registration, lock), not refused here
    assert "sl_send_reply(\"403\"" not in browser and "exit;" in browser   # exit only on a contact it cannot alias
    main = section(cfg, "request_route {")
    assert main.index("route(FROM_BROWSER);") < main.index("route(FROM_AGENT);")
    from_agent = section(cfg, "route[FROM_AGENT] {")
    for check in ("pv_proxy_authenticate(", 'registered("location"', 'lock("$fU")', 'set_dlg_profile("agent", "$fU")'):
        assert check in from_agent, check
    # its keep-alive asks the node only (a browser's dialog contact is made up, as below)
    assert 'if (proto != WS && proto != WSS) {\n\t\tdlg_set_property("ka-src");' in from_agent
    assert 'dlg_set_property("ka-dst");' in from_agent
    # the browser's answer: its contact aliased; inside the call, the alias names the connection
    assert 't_on_reply("FROM_PHONE");' in section(cfg, "route[TO_AGENT] {")
    assert "add_contact_alias();" in section(cfg, "onreply_route[FROM_PHONE] {")
    assert 'if ($du == "" && !handle_ruri_alias())' in section(cfg, "route[IN_DIALOG] {")
    # a browser's contact host is made up: its source address (checked before) stands for it
    assert "proto != WS && proto != WSS && !is_in_subnet" in section(cfg, "route[REGISTRAR] {")
    # each agent is still rung once, the browser like a SIP phone
    to_agent = section(cfg, "route[TO_AGENT] {")
    assert 'get_profile_size("agent", "$var(agent)", "$var(calls)")' in to_agent
    # keep-alive to the node only: the dialog holds no reachable contact of a browser (OPTIONS to it would end a
    # live call); a browser that vanishes is the node's to notice (rtp_timeout, below)
    assert 'dlg_set_property("ka-src");' in to_agent and 'dlg_set_property("ka-dst");' not in to_agent


def test_a_node_reaches_its_browser_agents_at_the_proxy_with_webrtc_media():
    rendered = render(webrtc_site())
    for node in ("n1", "n2"):
        pjsip = rendered[node].files["pjsip.conf"]
        agent = pjsip.split("\n[8001](telephony-endpoint)\n")[1].split("\n\n")[0]
        assert "transport=transport-udp" in agent and "permit=127.0.0.1/255.255.255.255" in agent
        assert "webrtc=yes" in agent and "dtls_auto_generate_cert=yes" in agent and "rtp_timeout=30" in agent
        assert "auth=" not in agent and "agent-softphone" not in pjsip
        assert "[8001]\ntype=aor\ncontact=sip:8001@127.0.0.1:5080\nmax_contacts=1\n" in pjsip


def test_without_browser_phones_the_proxy_has_no_websocket():
    files = render(SiteConfig.model_validate(EXAMPLE))[cluster.PROXY].files
    assert set(files) == set(cluster.PROXY_FILES)
    assert "websocket" not in files["kamailio.cfg"] and "8088" not in files["kamailio.cfg"]


@pytest.mark.parametrize("change", [{"ws_port": 5080}, {"wss_port": 5080}, {"ws_port": 8189}])
def test_the_proxys_tcp_ports_must_differ(change: dict):
    with pytest.raises(ValueError, match="used twice by the proxy"):
        SiteConfig.model_validate({**WEBRTC, "cluster": {**WEBRTC["cluster"], **change}})


def test_kamailio_accepts_the_rendered_config_with_browser_phones(tmp_path: Path):
    assert shutil.which("kamailio"), "Kamailio is installed by scripts/setup.sh"
    site = SiteConfig.model_validate({**WEBRTC, "cluster": {**WEBRTC["cluster"], "proxy_dir": str(tmp_path)}})
    render(site)[cluster.PROXY].write(tmp_path)
    proc = subprocess.run(["kamailio", "-c", "-f", str(tmp_path / "kamailio.cfg")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "tls: 127.0.0.1 [127.0.0.1]:8189" in proc.stdout + proc.stderr


def test_the_desk_points_the_page_at_the_proxy_in_a_cluster(tmp_path: Path):
    secrets = SecretStore(tmp_path)
    secrets.ensure(["sip-agent-8001"])
    one_node = BrowserPhones.for_site(SiteConfig.model_validate({"agents": {"webrtc": True}}), tmp_path)
    assert one_node.credentials("8001", "desk.example", secure=False)["socket"] == "ws://desk.example:8088/ws"
    phones = BrowserPhones.for_site(webrtc_site(), tmp_path)
    plain = phones.credentials("8001", "desk.example", secure=False)
    assert plain["socket"] == "ws://127.0.0.1:8188/ws" and plain["uri"] == "sip:8001@127.0.0.1"
    assert plain["password"] == secrets.get("sip-agent-8001")
    assert phones.credentials("8001", "desk.example", secure=True)["socket"] == "wss://127.0.0.1:8189/ws"
    v6 = BrowserPhones.for_site(webrtc_site(cluster={**WEBRTC["cluster"], "proxy": "::1"}), tmp_path)
    assert v6.credentials("8001", "desk.example", secure=True)["socket"] == "wss://[::1]:8189/ws"


def test_the_cli_writes_the_proxys_certificate_generated_at_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from launcher import cli

    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(WEBRTC))
    monkeypatch.setenv("HOTLINE_HOME", str(tmp_path / "home"))
    assert cli.main(["cluster", "render", "--site", str(site), "--out", str(tmp_path / "out")]) == 0
    pem = (tmp_path / "out" / cluster.PROXY / confgen.TLS_FILE).read_text()
    assert "BEGIN CERTIFICATE" in pem and "PRIVATE KEY" in pem
    assert pem == SecretStore(tmp_path / "home" / "secrets").get(confgen.TLS_SECRET) + "\n"
