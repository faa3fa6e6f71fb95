"""GET /api/v1/limits (on SQLite and PostgreSQL): the length limits the pages show are the request models' own numbers
(one definition), for any signed-in user; text one character over a limit the page shows is what the API refuses."""

from __future__ import annotations

from agent_desk.tickets import service


def test_the_pages_limits_are_the_request_models(rig):
    assert rig.client.get("/api/v1/limits").status_code == 401
    for who in ("agent", "water", "boss", "admin"):
        response = rig.call(who, "GET", "/api/v1/limits")
        assert response.status_code == 200, response.text
    limits = response.json()
    assert limits["ticket"]["title"] == service.TicketDraft.model_fields["title"].metadata[-1].max_length == 128
    assert limits["ticket"]["content"] == 20_000 and limits["edit"]["title"] == 128
    assert limits["actions"]["request_return"] == {"reason": 2000, "legal_basis": 2000}
    assert limits["actions"]["reply"] == {"content": 10_000}
    assert limits["actions"]["unmerge"] == {"reason": 2000} and limits["search"]["q"] == 64
    assert "co_units" not in limits["actions"]["dispatch"]   # a list's length is no text limit
    assert limits["actions"]["callback"] == {"reason": 2000}   # 不满意原因; the verdict is a choice and a checkbox

    # one over the shown limit is refused by the API, at the limit it is not refused for its length
    made = rig.call("agent", "POST", "/api/v1/tickets", json={
        "title": "路灯不亮", "content": "路灯坏了", "appeal_type": "help", "citizen_phone": "13644440001"})
    assert made.status_code == 201, made.text
    number = made.json()["number"]
    longest = limits["edit"]["title"]
    too_long = rig.call("agent", "PATCH", f"/api/v1/tickets/{number}", json={"title": "灯" * (longest + 1)})
    assert too_long.status_code == 422 and too_long.json()["fields"][0]["field"] == "title"
    at_limit = rig.call("agent", "PATCH", f"/api/v1/tickets/{number}", json={"title": "灯" * longest})
    assert at_limit.status_code == 200, at_limit.text
