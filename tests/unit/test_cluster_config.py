"""Cluster mode from data (issue 15): each Asterisk node's config and Kamailio's, rendered from the site config.

Golden files keep only what a node changes from the single-node rendering (tests/golden_cluster/<node>/), and
Kamailio's files; every other node file must equal the single-node golden file. Regenerate after an intended
change, then review the diff:

    python -m tests.unit.test_cluster_config
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hotline import confgen
from hotline.confgen import cluster
from hotline.numberplan import load_plan
from hotline.paths import PROJECT_ROOT
from hotline.site import SiteConfig, load_site
from hotline.yamlsource import ConfigError
from tests.unit.golden import GOLDEN_DIR, PLAN, FixedSecrets, render_golden

CLUSTER_GOLDEN = PROJECT_ROOT / "tests" / "golden_cluster"
EXAMPLE = {
    "carrier": {"host": "192.0.2.10", "port": 5060, "permit": ["192.0.2.0/255.255.255.0"]},
    "cluster": {
        "proxy": "127.0.0.1", "proxy_port": 5080,
        "nodes": [{"id": "n1", "address": "127.0.0.2"}, {"id": "n2", "address": "127.0.0.3"}],
    },
}


def example_site(**cluster_changes) -> SiteConfig:
    data = {**EXAMPLE, "cluster": {**EXAMPLE["cluster"], **cluster_changes}}
    return SiteConfig.model_validate(data)


def render_example(site: SiteConfig | None = None) -> dict[str, confgen.Rendered]:
    site = site or example_site()
    plan = load_plan(PLAN)
    return cluster.render_cluster(plan, site, FixedSecrets(confgen.secret_names(site, plan)))  # type: ignore[arg-type]


def golden_files() -> dict[str, str]:
    """What the golden directory must hold: per node, the files that differ from the single-node golden files."""
    single = render_golden().files
    files = {}
    for name, rendered in render_example().items():
        for file, text in rendered.files.items():
            if name == cluster.PROXY or single.get(file) != text:
                files[f"{name}/{file}"] = text
    return files


def test_the_example_matches_the_reviewed_golden_files():
    expected = golden_files()
    on_disk = {p.relative_to(CLUSTER_GOLDEN).as_posix() for p in CLUSTER_GOLDEN.rglob("*") if p.is_file()}
    assert on_disk == set(expected), "run `python -m tests.unit.test_cluster_config` and review the diff"
    stale = [name for name, text in expected.items() if (CLUSTER_GOLDEN / name).read_text() != text]
    assert not stale, f"golden files differ: {stale}; run `python -m tests.unit.test_cluster_config`"


def test_a_node_changes_only_its_addresses_its_instance_directory_and_its_carrier_trunk():
    # addresses: pjsip, manager, http; the instance directory: asterisk, and the sound paths in extensions, queues
    # and musiconhold; the carrier trunk: pjsip, and extensions (calls out go to the proxy, here with a carrier host)
    assert {name.split("/")[1] for name in golden_files() if not name.startswith("kamailio/")} == {
        "asterisk.conf", "http.conf", "manager.conf", "pjsip.conf", "extensions.conf", "queues.conf",
        "musiconhold.conf"}


def test_rendering_is_deterministic():
    assert {k: v.files for k, v in render_example().items()} == {k: v.files for k, v in render_example().items()}


def test_the_cluster_section_does_not_touch_the_single_node_rendering():
    plan = load_plan(PLAN)
    site = example_site()
    alone = site.model_copy(update={"cluster": None})
    secrets = FixedSecrets(confgen.secret_names(site, plan))
    assert confgen.render(plan, site, secrets).files == confgen.render(plan, alone, secrets).files  # type: ignore[arg-type]
    assert confgen.render(plan, SiteConfig(), secrets).files == {  # type: ignore[arg-type]
        p.name: p.read_text() for p in GOLDEN_DIR.glob("*.conf")}


def test_each_node_listens_on_its_own_address_and_takes_carrier_calls_only_from_the_proxy():
    rendered = render_example()
    for node, address in (("n1", "127.0.0.2"), ("n2", "127.0.0.3")):
        pjsip = rendered[node].files["pjsip.conf"]
        carrier = pjsip.split("\n[carrier](telephony-endpoint)\n")[1].split("\n\n")[0]
        assert f"bind={address}:5060" in pjsip
        assert "auth=" not in carrier.replace("outbound_auth", "")
        assert "permit=127.0.0.1/255.255.255.255" in carrier and "deny=0.0.0.0/0.0.0.0" in carrier
        assert "192.0.2" not in pjsip   # the real carrier is reached only through the proxy
        assert "contact=sip:127.0.0.1:5080" in pjsip and "match=127.0.0.1" in pjsip
        assert f"bindaddr={address}" in rendered[node].files["manager.conf"]
        assert f"astetcdir => /srv/hotline/main-{node}/etc" in rendered[node].files["asterisk.conf"]
        # agents are reached through the proxy, where their phones register: no digest login and no registration
        # on a node, and only the proxy may send the agent's requests
        agent = pjsip.split("\n[8001](telephony-endpoint)\n")[1].split("\n\n")[0]
        assert "auth=" not in agent and "agent-softphone" not in pjsip and "golden-sip-agent" not in pjsip
        assert "deny=0.0.0.0/0.0.0.0\npermit=127.0.0.1/255.255.255.255" in agent
        assert "[8001]\ntype=aor\ncontact=sip:8001@127.0.0.1:5080\nmax_contacts=1\n" in pjsip


def test_the_proxy_checks_the_carrier_and_spreads_calls_over_the_nodes():
    files = render_example()[cluster.PROXY].files
    cfg, dispatcher = files["kamailio.cfg"], files["dispatcher.list"]
    assert dispatcher.splitlines()[-2:] == ["1 sip:127.0.0.2:5060 0 0 duid=n1;maxload=200",
                                            "1 sip:127.0.0.3:5060 0 0 duid=n2;maxload=200"]
    assert 'is_in_subnet("$si", "192.0.2.0/24")' in cfg
    assert 'pv_proxy_authenticate("main", "golden-sip-carrier", "0")' in cfg
    assert 'ds_select_dst("1", "4")' in cfg
    assert 'modparam("dispatcher", "ds_probing_mode", 1)' in cfg
    assert '$du = "sip:192.0.2.10:5060";' in cfg
    call_load = render_example(example_site(algorithm="call-load"))[cluster.PROXY].files["kamailio.cfg"]
    assert 'ds_select_dst("1", "10")' in call_load and "ds_load_update();" in call_load


def test_agents_register_with_the_proxy_and_each_is_rung_once():
    site = example_site()
    cfg = render_example(site)[cluster.PROXY].files["kamailio.cfg"]
    # every agent's generated secret, and only the agents' networks may register
    for ext in site.agents.extensions():
        assert f'$sht(agents=>{ext}) = "golden-sip-agent-{ext}";' in cfg
    registrar = cfg.split("route[REGISTRAR] {")[1].split("\n}\n")[0]
    assert 'is_in_subnet("$si", "127.0.0.1/32") || $sht(agents=>$tU) == $null' in registrar
    assert '$au != $tU' in registrar and 'save("location", "0x04")' in registrar
    assert 'is_in_subnet("$(ct{tobody.host})", "127.0.0.1/32")' in registrar   # calls go only to agents' networks
    # a node's call to an agent: 486 while the agent has a dialog from any node, else claim the agent and relay
    to_agent = cfg.split("route[TO_AGENT] {")[1].split("\n}\n")[0]
    order = ['lock("$var(agent)")', 'get_profile_size("agent", "$var(agent)", "$var(calls)")',
             'sl_send_reply("486", "Busy Here")', 'lookup("location")', "dlg_manage()",
             'set_dlg_profile("agent", "$var(agent)")', "t_relay()"]
    positions = [to_agent.find(part) for part in order]
    assert -1 not in positions and positions == sorted(positions), positions
    assert to_agent.rfind('unlock("$var(agent)")') > positions[-1]   # the lock is held until the INVITE is relayed
    assert "route(TO_AGENT)" in cfg.split("route[FROM_NODE] {")[1]
    # a call whose node dies sends no BYE: in-dialog OPTIONS to both ends end it (the dialog module's minimum: 30 s)
    assert 'modparam("dialog", "ka_interval", 30)' in cfg
    assert 'dlg_set_property("ka-src");\n\tdlg_set_property("ka-dst");' in to_agent
    assert 'modparam("cfgutils", "lock_set_size", 4)' in cfg   # without it lock() only logs an error


@pytest.mark.parametrize("algorithm", ["round-robin", "call-load"])
def test_kamailio_accepts_the_rendered_config(tmp_path: Path, algorithm: str):
    assert shutil.which("kamailio"), "Kamailio is installed by scripts/setup.sh"
    site = example_site(algorithm=algorithm, proxy_dir=str(tmp_path))
    render_example(site)[cluster.PROXY].write(tmp_path)
    proc = subprocess.run(["kamailio", "-c", "-f", str(tmp_path / "kamailio.cfg")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize(("change", "message"), [
    ({"nodes": [{"id": "n1", "address": "127.0.0.2"}, {"id": "n1", "address": "127.0.0.3"}]}, "used twice"),
    ({"nodes": [{"id": "n1", "address": "127.0.0.2"}, {"id": "n2", "address": "127.0.0.2"}]}, "127.0.0.2:5060"),
    ({"nodes": [{"id": "n1", "address": "127.0.0.1", "sip_port": 5080}]}, "127.0.0.1:5080"),
    ({"nodes": [{"id": "n1", "address": "0.0.0.0"}]}, "not 0.0.0.0"),
    ({"nodes": []}, "at least 1"),
    ({"proxy": "kamailio.example"}, "does not appear to be an IPv4 or IPv6 address"),
    ({"algorithm": "random"}, "round-robin"),
])
def test_bad_cluster_sections_are_refused_naming_the_field(tmp_path: Path, change: dict, message: str):
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({**EXAMPLE, "cluster": {**EXAMPLE["cluster"], **change}}))
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    text = "\n".join(caught.value.problems)
    assert "cluster" in text and message in text, text


def test_a_node_may_not_take_the_proxys_directory_name_and_a_single_node_has_no_cluster():
    with pytest.raises(ValueError, match="proxy's directory"):
        render_example(example_site(nodes=[{"id": "kamailio", "address": "127.0.0.2"}]))
    with pytest.raises(ValueError, match="no cluster section"):
        render_example(SiteConfig())


def test_the_carrier_host_goes_into_the_proxys_script_only_as_a_plain_host():
    site = SiteConfig.model_validate({**EXAMPLE, "carrier": {"host": 'gw.example" + "x'}})
    with pytest.raises(ValueError, match="carrier.host"):
        render_example(site)
    assert "gw.example.cn:5060" in render_example(SiteConfig.model_validate(
        {**EXAMPLE, "carrier": {"host": "gw.example.cn"}}))[cluster.PROXY].files["kamailio.cfg"]


def test_the_cli_writes_every_node_and_the_proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from launcher import cli

    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(EXAMPLE))
    monkeypatch.setenv("HOTLINE_HOME", str(tmp_path / "home"))
    assert cli.main(["cluster", "render", "--site", str(site), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["kamailio", "n1", "n2"]
    assert "bind=127.0.0.3:5060" in (tmp_path / "out" / "n2" / "pjsip.conf").read_text()
    assert cli.main(["cluster", "render", "--site", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def main() -> None:
    files = golden_files()
    shutil.rmtree(CLUSTER_GOLDEN, ignore_errors=True)
    for name, text in files.items():
        (CLUSTER_GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
        (CLUSTER_GOLDEN / name).write_text(text)
    print(f"wrote {len(files)} golden files to {CLUSTER_GOLDEN}")


if __name__ == "__main__":
    main()
