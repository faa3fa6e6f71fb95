"""A database that cannot be reached (PostgreSQL stopped or restarting): every request answers 503 in Chinese
with ``Retry-After`` and nothing half saved; once it is back, the retry saves the ticket exactly once.

On a PostgreSQL cluster of its own (stopping the session's would break the other tests), with a real Redis. The
end-to-end version, on a live center with calls in progress, is the PostgreSQL row of
``tests/e2e/test_fault_matrix.py``. SQLite has no server to stop: not run there.
"""

from __future__ import annotations

import pytest

from tests.support import faults
from tests.support.desk import close_rig, make_rig
from tests.support.postgres_server import PostgresServer


@pytest.fixture
def own_postgres(tmp_path):
    server = PostgresServer.start(tmp_path / "pg-log")
    yield server
    server.stop()


def test_a_ticket_saved_while_the_database_is_down_is_refused_in_chinese_then_saved_once(own_postgres,
                                                                                        redis_server):
    rig = make_rig(own_postgres.create_database(), redis_server.authenticated_url)
    try:
        ticket = {"citizen_phone": "13800138000", "title": f"路灯不亮 {rig.tag}", "content": "嘉积镇某路路灯不亮",
                  "appeal_type": "help"}
        rig.as_("agent"), rig.as_("boss")   # logged in before the outage
        faults.stop_postgres(own_postgres)
        refused = rig.call("agent", "POST", "/api/v1/tickets", json=ticket)
        assert refused.status_code == 503, refused.text
        assert refused.json() == {"error": "database_unavailable",
                                  "message": "数据库暂时无法连接，本次操作未保存，请稍后重试"}
        assert refused.headers["retry-after"] == "5" and refused.headers["cache-control"] == "no-store"

        faults.start_postgres(own_postgres)
        retried = rig.call("agent", "POST", "/api/v1/tickets", json=ticket)
        assert retried.status_code == 201, retried.text
        found = rig.call("boss", "GET", "/api/v1/tickets", params={"q": rig.tag}).json()["items"]
        assert [t["number"] for t in found] == [retried.json()["number"]]   # the refused attempt left nothing
    finally:
        close_rig(rig)
