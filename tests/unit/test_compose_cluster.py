"""docker-compose.yml's ``cluster`` profile (issue 15): Kamailio, two Asterisk nodes, the cluster's desk and one
listener per node, on the single node's Redis, Postgres and FastAGI servers, agree with docker/site.cluster.yaml (the
addresses, each node's rendered config directory and instance directory). The Compose file as a whole is checked
against the Compose Specification in test_compose_file.py (dclint); ``docker compose --profile cluster config`` runs
too where Docker Compose is installed (not on this machine: no Compose plugin, no engine).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from hotline import confgen
from hotline.confgen import cluster as cluster_conf
from hotline.numberplan import load_plan
from hotline.paths import PROJECT_ROOT
from hotline.secrets import SecretStore
from hotline.site import load_site
from launcher.cli import build_parser

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
CLUSTER_SITE = PROJECT_ROOT / "docker" / "site.cluster.yaml"
CLUSTER_SERVICES = {"cluster-render", "kamailio", "node-a", "node-b", "cluster-desk", "listener-a", "listener-b"}
NODES = {"node-a": "n1", "node-b": "n2"}
LISTENERS = {"listener-a": "n1", "listener-b": "n2"}


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def address(service: dict) -> str:
    return service["networks"]["hotline"]["ipv4_address"]


def test_the_cluster_profile_has_its_services_and_shares_redis_and_postgres(services):
    in_profile = {name for name, service in services.items() if "cluster" in service.get("profiles", [])}
    assert in_profile == CLUSTER_SERVICES
    for shared in ("redis", "postgres", "agi", "init"):   # no profile: running with the cluster profile too
        assert "profiles" not in services[shared]


def test_the_cluster_site_renders_and_its_addresses_are_the_services(services, tmp_path):
    site = load_site(CLUSTER_SITE)
    assert site.cluster is not None
    plan = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")
    secrets = SecretStore(tmp_path / "secrets")
    secrets.ensure(confgen.secret_names(site, plan))
    rendered = cluster_conf.render_cluster(plan, site, secrets)
    assert set(rendered) == {"n1", "n2", cluster_conf.PROXY}

    assert address(services["kamailio"]) == site.cluster.proxy
    assert address(services["agi"]) == site.agi_host   # both nodes' FastAGI: the shared media servers
    nodes = {node.id: node for node in site.cluster.nodes}
    for service_name, node_id in NODES.items():
        service = services[service_name]
        assert address(service) == nodes[node_id].address
        own = cluster_conf.node_site(site, nodes[node_id])
        assert service["environment"]["HOTLINE_INSTANCE_DIR"] == own.instance_dir
        etc = next(v for v in service["volumes"] if isinstance(v, dict) and v["target"].endswith("/etc"))
        assert (etc["target"], etc["volume"]["subpath"]) == (f"{own.instance_dir}/etc", f"cluster/{node_id}")
    # Each node's AMI accepts the cluster's desk and the listeners, and nothing else.
    permitted = {str(net).split("/")[0] for net in site.ami_permit}
    assert permitted == {address(services[name]) for name in ("cluster-desk", *LISTENERS)}


def test_the_cluster_services_run_the_launcher_s_verbs_on_the_cluster_site(services):
    parser = build_parser()
    assert services["kamailio"]["command"] == ["hotline", "cluster", "proxy"]
    assert services["cluster-desk"]["command"] == ["hotline", "desk", "serve", "--no-listener"]
    for name in ("kamailio", "cluster-desk"):
        parser.parse_args(services[name]["command"][1:])
    for name, node_id in LISTENERS.items():   # `hotline listener --node ID`: each node's own listener
        assert services[name]["command"] == ["hotline", "listener", "--node", node_id]
    render = services["cluster-render"]["command"][-1]
    assert render.startswith('hotline cluster render --out "$$HOTLINE_HOME/cluster"')
    for name in CLUSTER_SERVICES - set(NODES):
        assert services[name]["environment"]["HOTLINE_SITE"] == "/etc/hotline/site.cluster.yaml"
        assert "./docker/site.cluster.yaml:/etc/hotline/site.cluster.yaml:ro" in services[name]["volumes"]


def test_docker_compose_accepts_the_cluster_profile():
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("Docker Compose is not installed here (the Compose file is checked by dclint instead)")
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE), "--profile", "cluster", "config", "--quiet"],
                            capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
