"""网页电话 registration on the real desk app and database: who gets it, which socket, what is audited."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from agent_desk.db import models as m
from agent_desk.telephony.softphone import BrowserPhones
from hotline.secrets import SecretStore
from tests.support.desk import close_rig, make_rig


@pytest.fixture
def ext() -> str:
    """The agent's extension, unique per test: rigs share the session's database. The next one has no secret."""
    return str(secrets.randbelow(80000) * 2 + 10000)


@pytest.fixture
def phones(tmp_path, ext) -> BrowserPhones:
    store = SecretStore(tmp_path / "secrets")
    store.ensure([f"sip-agent-{ext}"])
    return BrowserPhones(http_port=8088, https_port=8089, secrets_dir=store.directory)


@pytest.fixture
def rig(database_url, redis_server, phones, ext):
    rig = make_rig(database_url, redis_server.authenticated_url, softphone=phones)
    with rig.app.state.db.session() as session:
        for short, extension in (("agent", ext), ("agent2", str(int(ext) + 1))):
            session.scalar(select(m.User).where(m.User.username == rig.user(short))).extension = extension
    yield rig
    close_rig(rig)


def audited(rig) -> list[tuple[str, str, str]]:
    with rig.app.state.db.session() as session:
        return [(e.username, e.object_id, e.detail) for e in session.scalars(
            select(m.AuditEntry).where(m.AuditEntry.action == "softphone_credentials",
                                       m.AuditEntry.username.like(f"{rig.tag}-%"))
        .order_by(m.AuditEntry.id))]   # without an order PostgreSQL may answer in any


def test_an_agent_gets_its_own_extension_and_the_hand_out_is_audited(rig, phones, ext):
    response = rig.call("agent", "GET", "/api/v1/softphone")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body == {"extension": ext, "uri": f"sip:{ext}@127.0.0.1", "socket": "ws://127.0.0.1:8088/ws",
                    "password": SecretStore(phones.secrets_dir).get(f"sip-agent-{ext}"), "display_name": "agent"}
    assert rig.call("agent", "GET", "/api/v1/me").json()["softphone"] is True
    secure = rig.client.get("/api/v1/softphone", headers={**rig.as_("agent"), "host": "desk.example.cn"},
                            follow_redirects=False)
    assert secure.status_code == 200 and secure.json()["uri"] == f"sip:{ext}@desk.example.cn"
    https = rig.client.get("https://desk.example.cn/api/v1/softphone", headers=rig.as_("agent"))
    assert https.json()["socket"] == "wss://desk.example.cn:8089/ws"
    assert audited(rig) == [(rig.user("agent"), ext, "ws://127.0.0.1:8088/ws"),
                            (rig.user("agent"), ext, "ws://desk.example.cn:8088/ws"),
                            (rig.user("agent"), ext, "wss://desk.example.cn:8089/ws")]


def test_who_may_not_have_a_softphone(rig, ext):
    assert rig.client.get("/api/v1/softphone").status_code == 401
    for role in ("water", "gateway", "admin"):
        assert rig.call(role, "GET", "/api/v1/softphone").status_code == 403
    no_extension = rig.call("boss", "GET", "/api/v1/softphone")
    assert no_extension.status_code == 409 and "未绑定坐席分机" in no_extension.json()["message"]
    no_account = rig.call("agent2", "GET", "/api/v1/softphone")     # its extension has no generated SIP secret
    assert no_account.status_code == 409 and str(int(ext) + 1) in no_account.json()["message"]
    assert rig.call("boss", "GET", "/api/v1/me").json()["softphone"] is False
    assert audited(rig) == []


def test_off_unless_the_center_has_browser_softphones(database_url, redis_server):
    rig = make_rig(database_url, redis_server.authenticated_url)
    try:
        off = rig.call("agent", "GET", "/api/v1/softphone")
        assert off.status_code == 404 and "未启用网页电话" in off.json()["message"]
        assert rig.call("agent", "GET", "/api/v1/me").json()["softphone"] is False
    finally:
        close_rig(rig)
