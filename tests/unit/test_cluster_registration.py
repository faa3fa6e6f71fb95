"""Whether an agent's phone is registered, in a cluster (issue 15): the desk asks the proxy's JSON-RPC (ul.lookup).

The proxy is faked with httpx's MockTransport, which answers only the one request the desk may send (a POST of
``ul.lookup location <ext>`` to ``/RPC`` on the admin port) and raises on anything else. The replies are Kamailio
5.6's own shapes (seen from the real proxy in tests/e2e/test_cluster_desk.py).
"""

from __future__ import annotations

import json

import httpx
import pytest

from agent_desk.telephony import cluster as cl
from hotline.site import Cluster

CLUSTER = Cluster.model_validate({"proxy": "127.0.0.1", "rpc_port": 5071,
                                  "nodes": [{"id": "n1", "address": "127.0.0.2"}]})
FOUND = {"jsonrpc": "2.0", "id": 1, "result": {"AoR": "8001", "Contacts": [{"Contact": {
    "Address": "sip:8001@127.0.0.1:5099", "Expires": 117, "Q": -1, "User-Agent": "Asterisk PBX 20"}}]}}
NOT_FOUND = {"jsonrpc": "2.0", "id": 1, "error": {"code": 500, "message": "AOR not found in location table"}}


def proxy(replies: dict[str, object], status: int | None = None) -> httpx.MockTransport:
    """A fake proxy that answers ul.lookup for the extensions in ``replies`` and raises on any other request."""
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or str(request.url) != "http://127.0.0.1:5071/RPC":
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        body = json.loads(request.content)
        if body.get("method") != "ul.lookup" or body["params"][0] != "location" or body["params"][1] not in replies:
            raise AssertionError(f"unexpected JSON-RPC {body}")
        reply = replies[body["params"][1]]
        return httpx.Response(status or (500 if "error" in reply else 200), json=reply)   # type: ignore[operator]
    return httpx.MockTransport(handle)


async def test_a_registered_phone_and_one_that_is_not():
    found = await cl.proxy_registrations(CLUSTER, ["8001", "8002"], proxy({"8001": FOUND, "8002": NOT_FOUND}))
    assert found["8001"].registered and found["8001"].contacts == ("sip:8001@127.0.0.1:5099",)
    assert found["8001"].user_agent == "Asterisk PBX 20" and not found["8001"].unconfirmed
    assert not found["8002"].registered and found["8002"].contacts == () and not found["8002"].unconfirmed


async def test_an_extension_that_is_not_digits_is_never_sent():
    found = await cl.proxy_registrations(CLUSTER, ["80 01"], proxy({}))
    assert not found["80 01"].registered


async def test_a_proxy_that_does_not_answer_does_not_block_the_login_and_says_so():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)
    found = (await cl.proxy_registrations(CLUSTER, ["8001"], httpx.MockTransport(refuse)))["8001"]
    assert found.registered and "无法向集群代理" in found.unconfirmed and "连接失败" in found.unconfirmed


async def test_a_proxy_out_of_reach_is_asked_once_per_group_not_once_per_agent():
    asked = []

    def slow(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        raise httpx.ConnectTimeout("timed out", request=request)
    extensions = [str(8001 + i) for i in range(100)]
    found = await cl.proxy_registrations(CLUSTER, extensions, httpx.MockTransport(slow))
    assert all(r.registered and "超时" in r.unconfirmed for r in found.values())
    assert len(asked) <= cl.RPC_AT_ONCE, len(asked)


async def test_a_proxy_that_times_out_says_so():
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)
    found = (await cl.proxy_registrations(CLUSTER, ["8001"], httpx.MockTransport(slow)))["8001"]
    assert found.registered and "超时" in found.unconfirmed


@pytest.mark.parametrize("reply, status", [
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": 500, "message": "Table not found"}}, None),
    ({"jsonrpc": "2.0", "id": 1, "result": {"AoR": "8001"}}, None),
    (FOUND, 403),
])
async def test_a_reply_the_desk_cannot_read_is_unconfirmed_not_a_refusal(reply, status):
    found = (await cl.proxy_registrations(CLUSTER, ["8001"], proxy({"8001": reply}, status)))["8001"]
    assert found.registered and "应答无法识别" in found.unconfirmed


def test_parse_lookup_is_strict_about_the_shape():
    assert cl.parse_lookup("8001", NOT_FOUND).registered is False
    assert cl.parse_lookup("8001", {"error": {"code": 404, "message": "AOR not found"}}).registered is False
    assert cl.parse_lookup("8001", FOUND).contacts == ("sip:8001@127.0.0.1:5099",)
    with pytest.raises(cl.ProxyUnanswered):
        cl.parse_lookup("8001", ["not", "a", "reply"])
    assert cl.rpc_url(Cluster.model_validate({"proxy": "::1", "proxy_port": 5062,
                                              "nodes": [{"id": "n1", "address": "::2"}]})) == "http://[::1]:5071/RPC"


def test_the_admin_port_may_not_take_another_proxy_port():
    with pytest.raises(ValueError, match="used twice by the proxy"):
        Cluster.model_validate({"proxy": "127.0.0.1", "rpc_port": 5060,
                                "nodes": [{"id": "n1", "address": "127.0.0.2"}]})


def test_the_proxy_opens_the_admin_port_to_the_nodes_and_the_desk_for_ul_lookup_only():
    from hotline.confgen import cluster as conf
    from tests.unit.test_cluster_config import example_site, render_example

    site = example_site(rpc_port=5999, rpc_permit=["10.0.0.20/255.255.255.255"])
    cfg = render_example(site)[conf.PROXY].files["kamailio.cfg"]
    assert "listen=tcp:127.0.0.1:5999\n" in cfg
    assert 'modparam("jsonrpcs", "transport", 1)' in cfg   # HTTP only: no FIFO, no datagram socket
    route = cfg.split("event_route[xhttp:request] {")[1]
    assert 'is_in_subnet("$si", "127.0.0.2/32,127.0.0.3/32,10.0.0.20/32")' in route
    assert r'"ul\\.lookup' in route and route.count("jsonrpc_dispatch();") == 1


def test_an_agents_call_needs_its_own_login_and_a_carrier_call_may_not_claim_an_agent():
    from hotline.confgen import cluster as conf
    from tests.unit.test_cluster_config import render_example

    cfg = render_example()[conf.PROXY].files["kamailio.cfg"]
    agent = cfg.split("route[FROM_AGENT] {")[1].split("\n}\n")[0]
    assert 'pv_proxy_authenticate("main", "$sht(agents=>$fU)", "0") || $au != $fU' in agent
    assert 'registered("location", "sip:$fU@127.0.0.1")' in agent and 'ds_select_dst("1", "4")' in agent
    carrier = cfg.split("route[FROM_CARRIER] {")[1].split("\n}\n")[0]
    assert "$sht(agents=>$fU) != $null" in carrier and 'sl_send_reply("403", "Forbidden")' in carrier
