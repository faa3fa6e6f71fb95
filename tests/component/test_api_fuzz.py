"""Property-based fuzzing of the whole desk API from its own OpenAPI document (schemathesis + Hypothesis), on
SQLite and PostgreSQL, for every role and anonymously. For every generated request:

- no 5xx: the only 5xx allowed is a documented 503 (the phone system or the live data are away; no phone
  system runs in this test, so the call-control endpoints answer it), and it has the error body;
- every refusal is a documented 4xx whose body is the error shape with a Chinese message;
- every 2xx body conforms to the documented response schema (status, content type, schema);
- no response leaks the seeded citizens' phone numbers or names to a role that may not read them;
- a refused request changes nothing: the tickets, their history, users, skills and calls are as before.

Generation is derandomized (the same cases every run), a few examples per operation and role: this is a
regression net over every endpoint, not a search for rare inputs (bench/ may run the long search).
"""

from __future__ import annotations

import json
import re

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)
from sqlalchemy import func, select

from agent_desk.api.routes import document
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import create_user
from agent_desk.db import models as m
from tests.support.desk import PASSWORD, close_rig, make_rig

EXAMPLES = 6   # per operation and role, valid and invalid requests mixed
ROLES = ("anonymous", "agent", "agent2", "boss", "admin", "gateway", "water", "housing", "auditor")
# Seeded citizens: who may read them unmasked. Nobody else's response may carry these strings.
SECRET_PHONE, SECRET_NAME = "13987654321", "欧阳秘密"      # a 保密 ticket of "agent", hosted by "water"
PLAIN_PHONE, PLAIN_NAME = "13911112222", "司马明文"        # an ordinary ticket of "agent", hosted by "water"
MAY_READ = {"agent": {SECRET_PHONE, SECRET_NAME, PLAIN_PHONE, PLAIN_NAME},
            "boss": {SECRET_PHONE, SECRET_NAME, PLAIN_PHONE, PLAIN_NAME},
            "water": {PLAIN_PHONE, PLAIN_NAME}}
DEGRADED = {"telephony_unavailable", "wallboard_unavailable", "warnings_unavailable"}
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def rig(request, new_database, redis_server):
    rig = make_rig(new_database(request.param), redis_server.authenticated_url)
    with rig.app.state.db.session() as session:
        create_user(session, rig.user("auditor"), PASSWORD, Role.AUDITOR, display_name="审计员")
    for phone, name, confidential in ((SECRET_PHONE, SECRET_NAME, True), (PLAIN_PHONE, PLAIN_NAME, False)):
        made = rig.call("agent", "POST", "/api/v1/tickets", json={
            "citizen_name": name, "citizen_phone": phone, "title": "路灯不亮", "content": "嘉积镇某路路灯坏了三天",
            "appeal_type": "help", "confidential": confidential})
        assert made.status_code == 201, made.text
        dispatched = rig.call("agent", "POST", f"/api/v1/tickets/{made.json()['number']}/actions/dispatch",
                              json={"host_unit": rig.units["water"]})
        assert dispatched.status_code == 200, dispatched.text
    for role in ROLES[1:]:   # every session first: the fuzzed logins soon hit this client's login limit
        rig.as_(role)
    yield rig
    close_rig(rig)


def fingerprint(rig) -> tuple:
    """What a refused request must not change (the audit log grows on refusals by design, so it is left out)."""
    with rig.app.state.db.session() as session:
        counts = tuple(session.scalar(select(func.count()).select_from(table))
                       for table in (m.Ticket, m.TicketEvent, m.User, m.AgentSkill, m.Call, m.AuthToken))
        states = tuple(session.execute(select(m.Ticket.number, m.Ticket.state, m.Ticket.updated_at)
                                       .order_by(m.Ticket.id)).all())
        users = tuple(session.execute(select(m.User.username, m.User.role, m.User.active, m.User.password_hash)
                                      .order_by(m.User.id)).all())
    return counts, states, users


@pytest.mark.parametrize("role", ROLES)
def test_the_api_holds_under_generated_requests(rig, role):
    schema = schemathesis.openapi.from_dict(document(rig.app))
    headers = {} if role == "anonymous" else rig.as_(role)
    forbidden = {SECRET_PHONE, SECRET_NAME, PLAIN_PHONE, PLAIN_NAME} - MAY_READ.get(role, set())
    failures: list[str] = []
    statuses: dict[int, int] = {}

    # A signed-in role does not sign itself out half way (its logout is fuzzed anonymously, and tested in
    # test_desk_api): its session would end and every later request be a 401.
    operations = [op for op in (operation.ok() for operation in schema.get_all_operations())
                  if role == "anonymous" or not op.path.endswith("/auth/logout")]
    for op in operations:

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate])
        @given(case=op.as_strategy(GenerationMode.POSITIVE) | op.as_strategy(GenerationMode.NEGATIVE))
        def probe(case) -> None:
            before = fingerprint(rig) if case.method != "GET" else None
            kwargs = case.as_transport_kwargs(base_url="http://127.0.0.1")
            kwargs.pop("cookies", None)   # the role's session is the only credential sent
            if isinstance(kwargs.get("data"), (bytes, str)):   # a raw (invalid) body
                kwargs["content"] = kwargs.pop("data")
            kwargs["headers"] = {**{k: v for k, v in (kwargs.get("headers") or {}).items()
                                    if k.lower() not in ("authorization", "cookie")}, **headers}
            rig.client.cookies.clear()
            response = rig.client.request(**kwargs)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            where = f"{role} {case.method} {case.formatted_path} {response.status_code}"
            text = response.text
            if response.status_code >= 500:
                body = _json(text)
                if not (response.status_code == 503 and body.get("error") in DEGRADED):
                    failures.append(f"{where}: server error {text[:300]}")
                    return
            if 400 <= response.status_code < 600:
                body = _json(text)
                if set(body) - {"error", "message", "fields"} or not CJK.search(str(body.get("message", ""))):
                    failures.append(f"{where}: refusal not in the documented shape: {text[:300]}")
                if before is not None and fingerprint(rig) != before:
                    failures.append(f"{where}: a refused request changed state")
            leaked = [secret for secret in forbidden if secret in text]
            if leaked:
                failures.append(f"{where}: leaked {leaked}")
            try:
                case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                         content_type_conformance, response_schema_conformance]
                                       if response.status_code < 500 else [status_code_conformance])
            except (Exception, BaseExceptionGroup) as exc:   # schemathesis raises one group naming every failed check
                failures.append(f"{where}: {str(exc)[:500]}")

        probe()

    # The run reached the endpoints: most operations answered something other than a refusal of the whole request.
    assert sum(statuses.values()) >= 3 * len(operations) // 2, statuses
    print(f"{role}: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
    assert not failures, "\n".join(failures[:30]) + (f"\n… {len(failures)} in all" if len(failures) > 30 else "")


def _json(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
