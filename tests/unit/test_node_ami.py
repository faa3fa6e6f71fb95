"""The desk's AMI logins by node: one for a single node, one per cluster node (issue 15)."""

from agent_desk.bootstrap import SINGLE_NODE, node_ami_settings
from hotline import access
from hotline.secrets import SecretStore
from hotline.site import SiteConfig


def _site(**extra) -> SiteConfig:
    return SiteConfig.model_validate({"name": "t", **extra})


def test_single_node_site_has_one_login(tmp_path):
    secrets = SecretStore(tmp_path)
    secrets.ensure([access.AMI_DESK_SECRET])
    logins = node_ami_settings(_site(), secrets)
    assert list(logins) == [SINGLE_NODE]
    assert logins[SINGLE_NODE].secret == secrets.get(access.AMI_DESK_SECRET)


def test_cluster_site_has_a_login_per_node(tmp_path):
    secrets = SecretStore(tmp_path)
    secrets.ensure([access.AMI_DESK_SECRET])
    site = _site(cluster={"proxy": "127.0.0.1", "nodes": [
        {"id": "a", "address": "127.0.0.2", "ami_port": 5101}, {"id": "b", "address": "127.0.0.3", "ami_port": 5102}]})
    logins = node_ami_settings(site, secrets)
    assert {k: (s.host, s.port) for k, s in logins.items()} == {"a": ("127.0.0.2", 5101), "b": ("127.0.0.3", 5102)}
    assert len({s.secret for s in logins.values()}) == 1
