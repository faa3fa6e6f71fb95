"""Findings of the security review, one test each: exports, login limits, user lifecycle, lost data, errors.

Each runs on SQLite and PostgreSQL with a real Redis (the ``database_url`` and ``redis_server`` fixtures).
"""

from __future__ import annotations

import pytest

from tests.support.desk import close_rig, make_rig


@pytest.fixture
def rig(database_url, redis_server):
    rig = make_rig(database_url, redis_server.authenticated_url)
    yield rig
    close_rig(rig)


def draft(**changes) -> dict:
    base = {"channel": "phone", "citizen_name": "王小明", "citizen_phone": "13800138000", "title": "小区自来水发黄",
            "content": "自来水发黄。", "appeal_type": "complaint", "topic": "03-water", "location": "嘉积镇"}
    return base | changes


# ── 1. free-text classifications ─────────────────────────────────────────────
def test_a_ticket_topic_is_chosen_from_the_taxonomy_not_typed(rig):
    typed = rig.call("agent", "POST", "/api/v1/tickets", json=draft(topic='=HYPERLINK("http://x","点我")'))
    assert typed.status_code == 422, typed.text
    assert typed.json()["fields"][0]["field"] == "topic" and "分类表" in typed.json()["fields"][0]["problem"]
    assert rig.call("agent", "POST", "/api/v1/tickets", json=draft(topic="03-power")).status_code == 201
    assert rig.call("agent", "POST", "/api/v1/tickets", json=draft(topic="", citizen_phone="13800138001")).status_code == 201
    assert "03-water" in rig.call("agent", "GET", "/api/v1/vocab").json()["topics"]
