"""User lifecycle, shared by the admin API (``agent_desk.api.auth``, ``agent_desk.api.users``) and the operator's CLI
(``hotline desk``): list, create, change role (and a unit user's unit), name and extension, deactivate / reactivate,
reset a password, revoke sessions, change one's own password. Every administrative action is written to the audit
log (``privacy.audit``), by whoever did it.

Separation of duties: an administrator manages accounts but reads no case data, and cannot give itself any.
It cannot create or promote auditors (they watch administrators) nor supervisors (平台管理员 read every
ticket): both only by the server's operator, on the command line. It cannot change its own role or
deactivate itself. A password an administrator sets (a new account, a reset) is temporary: the user must
replace it at the next login, so the administrator never knows a password in use.
"""

from __future__ import annotations

from typing import Any

import secrets

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from agent_desk.auth.passwords import hash_password, verify_password
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import ROLE_LABELS, Role
from agent_desk.auth.sessions import Principal, create_user, unit_of_role
from agent_desk.db.base import utcnow
from agent_desk.db.models import AuthToken, OrgUnit, User
from agent_desk.errors import DeskError

# The operator at the server's command line: audited under this name.
OPERATOR = Principal(None, "operator", "服务器运维人员", Role.ADMIN, None, None, None)  # type: ignore[arg-type]
OPERATOR_ONLY = {Role.AUDITOR: "审计员账号只能由服务器运维人员通过命令行创建",
                 Role.SUPERVISOR: "平台管理员账号可以查看全部工单，只能由服务器运维人员通过命令行创建或授予"}


def listing(session: Session) -> list[dict[str, Any]]:
    """Every user with its state: active, must change its password, how many sessions are open."""
    now = utcnow()
    open_sessions = (select(AuthToken.user_id, func.count().label("n"))
                     .where(AuthToken.revoked.is_(False), AuthToken.expires_at > now)
                     .group_by(AuthToken.user_id).subquery())
    rows = session.execute(select(User, OrgUnit.code, OrgUnit.name, open_sessions.c.n)
                           .outerjoin(OrgUnit, OrgUnit.id == User.org_unit_id)
                           .outerjoin(open_sessions, open_sessions.c.user_id == User.id).order_by(User.id)).all()
    return [{"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
             "role_label": ROLE_LABELS.get(Role(u.role), u.role), "unit": code, "unit_name": unit_name,
             "extension": u.extension, "active": u.active, "must_change_password": u.must_change_password,
             "open_sessions": n or 0} for u, code, unit_name, n in rows]


def add(session: Session, who: Principal, username: str, password: str, role: Role, display_name: str = "",
        unit: str | None = None, extension: str | None = None, client: str = "") -> User:
    _may_grant(who, role)
    user = create_user(session, username, password, role, display_name, unit, extension,
                       must_change_password=who is not OPERATOR)
    audit(session, who, "create_user", "user", username, f"role={role.value} unit={unit or ''}", client, "admin")
    return user


def set_role(session: Session, who: Principal, username: str, role: Role, unit: str | None, client: str = "") -> User:
    user = _user(session, username)
    if user.id == who.user_id:
        raise DeskError(403, "own_role", "不能修改自己的角色")
    _may_grant(who, role)
    if Role(user.role) in OPERATOR_ONLY and who is not OPERATOR:
        raise DeskError(403, "operator_only", "审计员和平台管理员的角色只能由服务器运维人员修改")
    unit_id = unit_of_role(session, role, unit)
    before = user.role
    user.role, user.org_unit_id = role.value, unit_id
    _revoke(session, user)   # the next request is made with the new role, after a new login
    audit(session, who, "set_user_role", "user", username, f"{before} -> {role.value} unit={unit or ''}", client,
          "admin")
    return user


def update_profile(session: Session, who: Principal, username: str, *, display_name: str | None = None,
                   extension: str | None = None, clear_extension: bool = False, client: str = "") -> User:
    """The name people see (姓名) and the agent's extension (分机); only what is given changes. The audit entry names
    the fields and their new values (neither is a secret; the extension decides which phone rings)."""
    user = _user(session, username)
    _may_manage(who, user)
    changes: list[str] = []
    if display_name is not None:
        name = display_name.strip()
        if not name:
            raise DeskError(422, "empty_name", "姓名不能为空")
        if name != user.display_name:
            user.display_name = name
            changes.append(f"display_name={name}")
    if clear_extension or extension is not None:
        wanted = None if clear_extension else extension
        if wanted and session.scalar(select(User.id).where(User.extension == wanted, User.id != user.id)) is not None:
            raise DeskError(409, "extension_taken", f"分机号“{wanted}”已被其他用户使用")
        if wanted != user.extension:
            user.extension = wanted
            changes.append(f"extension={wanted or ''}")
    if not changes:
        raise DeskError(422, "nothing_changed", "没有修改任何内容")
    session.flush()
    audit(session, who, "update_user", "user", username, " ".join(changes), client, "admin")
    return user


def set_active(session: Session, who: Principal, username: str, active: bool, client: str = "") -> User:
    user = _user(session, username)
    if user.id == who.user_id:
        raise DeskError(403, "own_account", "不能停用或启用自己的账号")
    _may_manage(who, user)
    user.active = active
    if not active:
        _revoke(session, user)
    audit(session, who, "reactivate_user" if active else "deactivate_user", "user", username, "", client, "admin")
    return user


def reset_password(session: Session, who: Principal, username: str, client: str = "") -> str:
    """A new temporary password (shown once to whoever reset it); the user must change it at the next login."""
    user = _user(session, username)
    _may_manage(who, user)
    temporary = secrets.token_urlsafe(12)
    user.password_hash, user.must_change_password = hash_password(temporary), True
    revoked = _revoke(session, user)
    audit(session, who, "reset_password", "user", username, f"sessions_revoked={revoked}", client, "admin")
    return temporary


def revoke_sessions(session: Session, who: Principal, username: str, client: str = "") -> int:
    user = _user(session, username)
    _may_manage(who, user)
    revoked = _revoke(session, user)
    audit(session, who, "revoke_sessions", "user", username, f"sessions_revoked={revoked}", client, "admin")
    return revoked


def change_own_password(session: Session, who: Principal, current: str, new: str, client: str = "") -> None:
    user = session.get(User, who.user_id)
    if user is None or not verify_password(current, user.password_hash):
        raise DeskError(403, "wrong_password", "当前密码不正确")
    if new == current:
        raise DeskError(422, "same_password", "新密码不能与当前密码相同")
    try:
        user.password_hash = hash_password(new)
    except ValueError as exc:
        raise DeskError(422, "weak_password", str(exc)) from None
    user.must_change_password = False
    audit(session, who, "change_password", "user", who.username, "", client, "self")


def _may_grant(who: Principal, role: Role) -> None:
    if role in OPERATOR_ONLY and who is not OPERATOR:
        code = "auditor_by_operator" if role == Role.AUDITOR else "supervisor_by_operator"
        raise DeskError(403, code, OPERATOR_ONLY[role])


def _may_manage(who: Principal, user: User) -> None:
    """An administrator does not reset or lock out the auditors who watch it (the operator does)."""
    if user.role == Role.AUDITOR.value and who is not OPERATOR:
        raise DeskError(403, "operator_only", "审计员账号只能由服务器运维人员管理")


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise DeskError(404, "unknown_user", f"用户“{username}”不存在")
    return user


def _revoke(session: Session, user: User) -> int:
    result = session.execute(update(AuthToken).where(AuthToken.user_id == user.id, AuthToken.revoked.is_(False))
                             .values(revoked=True))
    return int(getattr(result, "rowcount", 0) or 0)   # a CursorResult for an UPDATE
