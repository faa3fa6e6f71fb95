"""Login, tokens and the login rate limit. Tokens are random; only their SHA-256 is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from agent_desk.auth import limits
from agent_desk.auth.passwords import DUMMY_HASH, hash_password, verify_password
from agent_desk.auth.roles import Role
from agent_desk.db.base import utcnow
from agent_desk.db.models import AuthToken, LoginAttempt, OrgUnit, User
from agent_desk.errors import DeskError
from agent_desk.settings import DeskSettings


@dataclass(frozen=True)
class Principal:
    """The authenticated user of one request."""

    user_id: int
    username: str
    display_name: str
    role: Role
    unit_id: int | None
    unit_code: str | None
    extension: str | None
    must_change_password: bool = False   # only POST /auth/password (and /me, logout) answer until it is changed

    @classmethod
    def of(cls, user: User, unit_code: str | None) -> Principal:
        """The principal a user row acts as (its unit's code given: the caller has it or looks it up)."""
        return cls(user.id, user.username, user.display_name, Role(user.role), user.org_unit_id, unit_code,
                   user.extension, user.must_change_password)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unit_of_role(session: Session, role: Role, unit_code: str | None) -> int | None:
    """The org unit a user of ``role`` belongs to: required for unit staff, optional otherwise, always known."""
    if role == Role.UNIT and not unit_code:
        raise DeskError(422, "unit_required", "承办单位用户必须指定所属单位")
    if not unit_code:
        return None
    unit_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == unit_code))
    if unit_id is None:
        raise DeskError(422, "unknown_unit", f"单位“{unit_code}”不存在")
    return unit_id


def create_user(session: Session, username: str, password: str, role: Role, display_name: str = "",
                unit_code: str | None = None, extension: str | None = None, *,
                must_change_password: bool = False) -> User:
    unit_id = unit_of_role(session, role, unit_code)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DeskError(409, "user_exists", f"用户“{username}”已存在")
    if extension and session.scalar(select(User.id).where(User.extension == extension)) is not None:
        raise DeskError(409, "extension_taken", f"分机号“{extension}”已被其他用户使用")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise DeskError(422, "weak_password", str(exc)) from None
    user = User(username=username, display_name=display_name or username, password_hash=password_hash,
                role=role.value, org_unit_id=unit_id, extension=extension,
                must_change_password=must_change_password)
    session.add(user)
    session.flush()
    return user


def login(session: Session, settings: DeskSettings, username: str, password: str, client: str) -> str:
    """A new token, or DeskError 401 (wrong credentials) / 429 (too many failures: ``limits``)."""
    now = utcnow()
    username, client = username[:64], client[:64]
    reservation = limits.reserve(session, settings, username, client, now)
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    ok = verify_password(password, user.password_hash if user else DUMMY_HASH) and user is not None
    session.add(LoginAttempt(username=username, client=client, at=now, success=ok))
    if not ok:
        session.commit()  # the failure must be recorded even though the request fails
        raise DeskError(401, "bad_credentials", "用户名或密码错误")
    assert user is not None   # ok implies a user
    limits.succeeded(session, reservation)
    token = secrets.token_urlsafe(32)
    session.add(AuthToken(token_hash=_digest(token), user_id=user.id, created_at=now,
                          expires_at=now + settings.token_ttl))
    return token


def logout(session: Session, token: str) -> None:
    session.execute(update(AuthToken).where(AuthToken.token_hash == _digest(token)).values(revoked=True))


def authenticate(session: Session, token: str) -> Principal | None:
    row = session.execute(
        select(User, OrgUnit.code)
        .join(AuthToken, AuthToken.user_id == User.id)
        .outerjoin(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(AuthToken.token_hash == _digest(token), AuthToken.revoked.is_(False),
               AuthToken.expires_at > utcnow(), User.active.is_(True))
    ).first()
    if row is None:
        return None
    user, unit_code = row
    return Principal.of(user, unit_code)


def expire_before(session: Session, moment: dt.datetime) -> int:
    """Housekeeping: forget expired tokens."""
    result = session.execute(update(AuthToken).where(AuthToken.expires_at < moment).values(revoked=True))
    return int(getattr(result, "rowcount", 0) or 0)   # a CursorResult for an UPDATE
