"""User administration (issue 19, point 10): an administrator changes a user's name and extension, sees the roles it
may grant, and every change is audited; the operator names units and topics and sets names on the command line.

Each test runs on SQLite and PostgreSQL with a real Redis (the ``database_url`` and ``redis_server`` fixtures).
"""

from __future__ import annotations

from sqlalchemy import select

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import create_user
from agent_desk.db.models import AuditEntry, User
from hotline.reference import topics
from tests.support.desk import PASSWORD


def user_audit(rig, username: str) -> list[tuple[str, str, str]]:
    with rig.app.state.db.session() as session:
        rows = session.execute(select(AuditEntry.username, AuditEntry.action, AuditEntry.detail)
                               .where(AuditEntry.object_type == "user", AuditEntry.object_id == username)
                               .order_by(AuditEntry.id)).all()
    return [tuple(r) for r in rows]


def extension(rig, n: int) -> str:
    """An extension no other rig in the session's database uses (the column is unique)."""
    return str(10_000_000 + (int(rig.tag, 16) * 4 + n) % 90_000_000)


def listed(rig) -> dict[str, dict]:
    answer = rig.call("admin", "GET", "/api/v1/users")
    assert answer.status_code == 200, answer.text
    return {u["username"]: u for u in answer.json()}


def test_an_admin_renames_and_rebinds_a_user_and_each_change_is_audited(rig):
    agent = rig.user("agent2")
    renamed = rig.call("admin", "PATCH", f"/api/v1/users/{agent}", json={"display_name": " 李海燕 "})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() == {"username": agent, "display_name": "李海燕", "extension": None}
    ext = extension(rig, 0)
    bound = rig.call("admin", "PATCH", f"/api/v1/users/{agent}", json={"extension": ext})
    assert bound.json()["extension"] == ext and bound.json()["display_name"] == "李海燕"
    row = listed(rig)[agent]
    assert (row["display_name"], row["extension"], row["role_label"]) == ("李海燕", ext, "话务员")

    # The name is what the user and everyone else now sees (the header reads /me).
    assert rig.call("agent2", "GET", "/api/v1/me").json()["display_name"] == "李海燕"

    unbound = rig.call("admin", "PATCH", f"/api/v1/users/{agent}", json={"extension": None})
    assert unbound.status_code == 200 and unbound.json()["extension"] is None

    admin = rig.user("admin")
    assert user_audit(rig, agent) == [(admin, "update_user", "display_name=李海燕"),
                                      (admin, "update_user", f"extension={ext}"),
                                      (admin, "update_user", "extension=")]


def test_bad_profile_changes_are_refused_in_chinese_and_change_nothing(rig):
    agent, other = rig.user("agent2"), rig.user("agent")
    ext = extension(rig, 1)
    assert rig.call("admin", "PATCH", f"/api/v1/users/{other}", json={"extension": ext}).status_code == 200
    taken = rig.call("admin", "PATCH", f"/api/v1/users/{agent}", json={"extension": ext})
    assert taken.status_code == 409 and taken.json()["error"] == "extension_taken" and ext in taken.json()["message"]
    empty = rig.call("admin", "PATCH", f"/api/v1/users/{agent}", json={})
    assert empty.status_code == 422 and "至少修改一项" in empty.text
    blank = rig.call("admin", "PATCH", f"/api/v1/users/{agent}", json={"display_name": "   "})
    assert blank.status_code == 422
    letters = rig.call("admin", "PATCH", f"/api/v1/users/{agent}", json={"extension": "80a1"})
    assert letters.status_code == 422 and letters.json()["fields"][0]["field"] == "extension"
    same = rig.call("admin", "PATCH", f"/api/v1/users/{agent}", json={"display_name": "agent2"})
    assert same.status_code == 422 and same.json()["error"] == "nothing_changed"
    unknown = rig.call("admin", "PATCH", "/api/v1/users/nobody-here", json={"display_name": "某人"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_user"
    assert listed(rig)[agent]["extension"] is None and listed(rig)[agent]["display_name"] == "agent2"
    assert [a for _, a, _ in user_audit(rig, agent)] == []


def test_only_admins_manage_users_and_auditors_are_left_to_the_operator(rig):
    agent = rig.user("agent2")
    for short in ("agent", "boss", "water", "gateway"):
        refused = rig.call(short, "PATCH", f"/api/v1/users/{agent}", json={"display_name": "冒名"})
        assert refused.status_code == 403, (short, refused.text)
        assert rig.call(short, "GET", "/api/v1/user-roles").status_code == 403
    assert rig.client.patch(f"/api/v1/users/{agent}", json={"display_name": "冒名"}).status_code == 401
    with rig.app.state.db.session() as session:
        create_user(session, rig.user("aud"), PASSWORD, Role.AUDITOR, display_name="审计员甲")
    watched = rig.call("admin", "PATCH", f"/api/v1/users/{rig.user('aud')}", json={"display_name": "改名"})
    assert watched.status_code == 403 and "运维" in watched.json()["message"]

    roles = rig.call("admin", "GET", "/api/v1/user-roles").json()
    assert [r["code"] for r in roles] == ["agent", "unit", "admin", "gateway"]
    assert {r["code"]: r["needs_unit"] for r in roles}["unit"] is True
    assert all(r["label"] and not r["label"].isascii() for r in roles)


def test_the_user_list_and_me_name_the_unit(rig):
    row = listed(rig)[rig.user("water")]
    assert (row["unit"], row["unit_name"], row["role_label"]) == (rig.units["water"], "琼海市水务局", "承办单位")
    me = rig.call("water", "GET", "/api/v1/me").json()
    assert (me["unit"], me["unit_name"]) == (rig.units["water"], "琼海市水务局")
    assert rig.call("agent", "GET", "/api/v1/me").json()["unit_name"] is None


def test_the_operator_lists_units_and_topics_and_names_users_on_the_command_line(rig, database_url, capsys):
    from hotline.site import SiteConfig
    from launcher.cli import Context, build_parser

    ctx = Context(paths=None, _site=SiteConfig(database_url=database_url))  # type: ignore[arg-type]

    def hotline(*argv: str) -> int:
        args = build_parser().parse_args(["desk", *argv])
        return args.func(ctx, args)

    capsys.readouterr()
    assert hotline("units", rig.tag) == 0
    lines = capsys.readouterr().out.splitlines()
    water = [line for line in lines if line.startswith(rig.units["water"] + " ")]
    assert len(water) == 1 and "琼海市水务局" in water[0] and "成员单位" in water[0]
    assert len(lines) == 4   # the rig's province and its three units, nobody else's
    assert hotline("units", "琼海市水务局", "--kind", "member_unit") == 0
    assert rig.units["water"] in capsys.readouterr().out
    assert hotline("units", "no-such-unit-anywhere") == 1

    assert hotline("topics") == 0
    out = capsys.readouterr().out
    for topic in topics():
        assert f"{topic['code']}" in out and topic["name"] in out

    agent = rig.user("agent2")
    assert hotline("set-name", agent, "陈立") == 0
    assert hotline("set-name", "nobody-at-all", "某人") == 1
    with rig.app.state.db.session() as session:
        assert session.scalar(select(User.display_name).where(User.username == agent)) == "陈立"
    assert user_audit(rig, agent) == [("operator", "update_user", "display_name=陈立")]
