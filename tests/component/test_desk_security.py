"""Findings of the security review, one test each: exports, login limits, user lifecycle, lost data, errors.

Each runs on SQLite and PostgreSQL with a real Redis (the ``database_url`` and ``redis_server`` fixtures).
"""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

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


# ── 5. errors are JSON in Chinese; personal data is never cached ──────────────
@pytest.mark.parametrize("url", [
    "/api/v1/tickets?created_to=9999-12-31", "/api/v1/tickets?created_from=0001-01-01",
    "/api/v1/kpi?period=month&date=9999-12-31", "/api/v1/kpi?period=custom&start=9999-12-01&end=9999-12-31",
    "/api/v1/views/overview?period=week&date=0001-01-01", "/api/v1/reports/monthly?date=9999-12-31&format=xlsx",
])
def test_dates_out_of_range_are_a_422_in_chinese_not_a_500(rig, url):
    response = unforgiving(rig).get(url, headers=rig.as_("boss"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert re.search(r"[\u4e00-\u9fff]", response.json()["message"])


def unforgiving(rig) -> TestClient:
    """A client that gets the 500 a user would get, instead of the exception."""
    return TestClient(rig.app, base_url="http://127.0.0.1", raise_server_exceptions=False)


def test_a_taken_extension_is_a_409_not_a_500(rig):
    user = {"username": f"{rig.tag}-ext1", "password": "abcdefgh12", "role": "agent", "extension": "7711"}
    assert rig.call("admin", "POST", "/api/v1/users", json=user).status_code == 201
    again = unforgiving(rig).post("/api/v1/users", headers=rig.as_("admin"),
                                  json=user | {"username": f"{rig.tag}-ext2"})
    assert again.status_code == 409 and again.json()["error"] == "extension_taken"


def test_an_unexpected_failure_is_a_json_500_in_chinese_and_logged(rig, monkeypatch, caplog):
    from agent_desk.tickets import service

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "search", broken)
    with caplog.at_level(logging.ERROR):
        response = unforgiving(rig).get("/api/v1/tickets", headers=rig.as_("boss"))
    assert response.status_code == 500 and response.json()["error"] == "internal_error"
    assert "服务器内部错误" in response.json()["message"] and response.headers["cache-control"] == "no-store"
    assert any("boom" in (r.exc_text or "") or (r.exc_info and "boom" in str(r.exc_info[1])) for r in caplog.records)


def test_every_api_response_says_no_store(rig):
    for response in (rig.call("boss", "GET", "/api/v1/tickets"), rig.call("boss", "GET", "/api/v1/me"),
                     rig.client.get("/api/v1/me"), rig.call("agent", "GET", "/api/v1/no-such-thing"),
                     rig.client.post("/api/v1/auth/login", json={"username": "x", "password": "y"})):
        assert response.headers["cache-control"] == "no-store", response.request.url
