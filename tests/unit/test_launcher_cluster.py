"""The cluster's start-up verbs (launcher.cluster, issue 15 point 1): what each machine's part runs, and the refusals
that keep a machine from starting with the wrong site or secrets."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from hotline.contracts.processes import ProcessKind
from hotline.secrets import SecretStore
from hotline.site import SiteConfig
from launcher import cluster
from launcher.asterisk import RunnerError
from launcher.cli import build_parser, main
from launcher.supervisor import Child, Supervisor


def cluster_site(**changes) -> SiteConfig:
    return SiteConfig.model_validate({
        "name": "t", "agents": {"count": 2}, "speech": {"engine": "none", "workers": 0},
        "carrier": {"host": "127.0.0.1", "port": 5099},
        "cluster": {"proxy": "127.0.0.1", "proxy_dir": "/tmp/hotline-proxy-test",
                    "nodes": [{"id": "n1", "address": "127.0.0.2"}, {"id": "n2", "address": "127.0.0.3"}]},
        **changes,
    })


def test_a_node_runs_its_media_processes_its_own_listener_and_no_desk():
    children = cluster.node_children(cluster_site(), "n2", media=2)
    assert [(c.name, c.kind) for c in children] == [
        ("media", ProcessKind.MEDIA), ("media-1", ProcessKind.MEDIA), ("listener", ProcessKind.LISTENER)]
    listener = children[-1].argv
    assert listener[-3:] == ["listener", "--node", "n2"]   # the listener of this node's AMI only


def test_a_node_whose_fastagi_is_served_elsewhere_runs_no_media_process():
    children = cluster.node_children(cluster_site(), "n1", media=0)
    assert [c.name for c in children] == ["listener"]


def test_the_site_s_asr_workers_run_on_a_node():
    site = cluster_site(speech={"engine": "whisper", "workers": 2})
    assert [c.name for c in cluster.node_children(site, "n1", media=1)] == ["media", "listener", "asr-0", "asr-1"]


def test_the_desk_machine_runs_the_desk_without_a_listener():
    (desk,) = cluster.desk_children(None)
    assert desk.kind is ProcessKind.DESK and list(desk.argv[-3:]) == ["desk", "serve", "--no-listener"]


def test_an_unknown_node_is_refused_naming_the_known_ones():
    with pytest.raises(RunnerError, match="no node 'n3'.*n1, n2"):
        cluster.cluster_node(cluster_site(), "n3")


def test_a_cluster_machine_never_makes_up_secrets(tmp_path):
    secrets = SecretStore(tmp_path / "secrets")
    secrets.ensure(["sip-carrier"])
    with pytest.raises(RunnerError, match="missing secrets .*ami-operator.*copy its secrets directory"):
        cluster.require_secrets(secrets, ["sip-carrier", "ami-operator"])
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == ["sip-carrier"]
    cluster.require_secrets(secrets, ["sip-carrier"])   # all there: no complaint


def test_kamailio_runs_in_the_foreground_from_the_rendered_config(tmp_path):
    argv = cluster.kamailio_command(tmp_path)
    assert argv[1:5] == ["-f", str(tmp_path / "kamailio.cfg"), "-DD", "-E"]
    assert cluster.proxy_child(tmp_path).name == cluster.PROXY_CHILD


def test_the_run_verb_parses_each_machine_s_part():
    parser = build_parser()
    node = parser.parse_args(["run", "--node", "n1", "--no-media"])
    assert (node.node, node.no_media, node.desk_only) == ("n1", True, False)
    assert parser.parse_args(["run", "--desk-only"]).desk_only is True
    single = parser.parse_args(["run"])
    assert (single.node, single.desk_only, single.media) == (None, False, None)
    assert parser.parse_args(["cluster", "proxy"]).func.__name__ == "cmd_cluster_proxy"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--node", "n1", "--desk-only"])


def test_no_media_process_is_refused_outside_a_node(capsys):
    assert main(["run", "--no-media"]) == 2
    assert "only with --node" in capsys.readouterr().err
    with pytest.raises(SystemExit):   # a count of media processes stays 1 to 32
        build_parser().parse_args(["run", "--node", "n1", "--media", "0"])


def test_a_site_without_a_cluster_section_has_no_node_to_run(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site.yaml"
    site.write_text("name: single\n")
    monkeypatch.setenv("HOTLINE_SITE", str(site))
    monkeypatch.setenv("HOTLINE_HOME", str(tmp_path / "home"))
    assert main(["run", "--node", "n1"]) == 2
    assert "no cluster section" in capsys.readouterr().err
    assert main(["cluster", "proxy"]) == 2
    assert not (tmp_path / "home").exists()   # nothing installed, nothing generated


def test_a_killed_child_s_leftovers_are_ended_before_it_starts_again(tmp_path):
    """Kamailio killed with SIGKILL leaves its forked workers holding its ports; the supervisor ends what is left
    in the child's process group, so the one started again can bind them."""
    pids = tmp_path / "pids"
    script = ("import os, subprocess, sys, time\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
              f"open({str(pids)!r}, 'a').write(str(child.pid) + '\\n')\n"
              "os._exit(3)\n")

    async def scenario() -> list[int]:
        supervisor = Supervisor([Child("forks", [sys.executable, "-c", script])], restart_delay=0.2)
        await supervisor.start()
        deadline = time.monotonic() + 20
        while supervisor.restarts < 1 or not pids.exists():
            assert time.monotonic() < deadline, "the child never ended"
            await asyncio.sleep(0.05)
        await supervisor.stop()
        return [int(line) for line in pids.read_text().split()]

    leftovers = asyncio.run(scenario())
    deadline = time.monotonic() + 5
    alive = leftovers
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in leftovers if _running(pid)]
        time.sleep(0.05)
    assert leftovers and not alive, f"grandchildren still running: {alive}"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    if state == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return True
