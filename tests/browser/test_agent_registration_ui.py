"""The agent page's 坐席状态 when a cluster's proxy could not say whether the agent's phone is registered (issue 15).

The browser desk has no phone system, so the answers that come from it are replaced in the browser, as in
``test_revisit_ui``: ``/me``'s ``telephony`` flag, the pause reasons and the agent's state (``GET /agents/me`` and
``POST /agents/me/login``). The replies are built by the desk's own reply model (``AgentState``), so their shape is
the API's; the cluster e2e test (``tests/e2e/test_cluster_desk.py``) checks that the real desk sends the field when
the proxy's admin port is unreachable.
"""

from __future__ import annotations

import json

from playwright.sync_api import expect

from agent_desk.api.agents_schemas import AgentState, PauseReason, QueueMembership
from agent_desk.telephony.cluster import PROXY_UNREACHABLE
from tests.browser.test_desk_ui import assert_clean, logout
from tests.browser.test_revisit_ui import fake_telephony, sign_in


def state(desk, signed_in: bool, unconfirmed: bool) -> str:
    queues = [QueueMembership(queue="general", name="综合队列", paused=False, reason="", reason_label="",
                              in_call=False)] if signed_in else []
    why = PROXY_UNREACHABLE.format(ext=desk.extension, why="连接失败") if unconfirmed else None
    reply = AgentState(extension=desk.extension, queues=queues, registered=True, nodes_down=[], nodes_disagree=[],
                       registration_unconfirmed=why)
    return json.dumps(reply.model_dump(mode="json"), ensure_ascii=False)


def test_the_agent_page_says_when_the_login_went_through_unconfirmed(page, desk, shoot):
    sign_in(page, desk.users["agent"])
    fake_telephony(page)
    replies = {"GET": state(desk, signed_in=False, unconfirmed=False)}
    posted: list[str] = []

    def agent_state(route):
        if route.request.method == "POST":
            posted.append(route.request.url)
        route.fulfill(status=200, content_type="application/json", body=replies[route.request.method])

    page.route("**/api/v1/agents/me", agent_state)
    page.route("**/api/v1/agents/me/login", agent_state)
    reasons = [PauseReason(code="rest", label="小休", default=True).model_dump()]
    page.route("**/api/v1/pause-reasons", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(reasons, ensure_ascii=False)))
    page.goto("/agent.html")

    status, badge = page.locator("#status-msg"), page.locator("#agent-state")
    expect(badge).to_have_text("未签入")
    expect(status).to_be_hidden()   # a confirmed registration: nothing to say
    login = page.locator("#agent-login")
    expect(login).to_be_enabled()

    # 签入 while the desk could not reach the proxy: signed in, and the page says the phone is unconfirmed
    replies["POST"] = state(desk, signed_in=True, unconfirmed=True)
    login.click()
    page.locator("#login-yes").click()
    expect(badge).to_have_text("空闲")
    expect(status).to_have_text(PROXY_UNREACHABLE.format(ext=desk.extension, why="连接失败"))
    expect(status).to_contain_text("签入照常办理")
    expect(status).to_have_attribute("role", "alert")
    assert len(posted) == 1, posted
    shoot(page, "login-unconfirmed")

    # the next state the proxy confirms (the browser phone said it registered again): the notice goes, still 签入
    replies["GET"] = state(desk, signed_in=True, unconfirmed=False)
    page.evaluate("window.dispatchEvent(new Event('softphone-registration'))")
    expect(status).to_be_hidden()
    expect(badge).to_have_text("空闲")
    assert_clean(page)
    logout(page)
