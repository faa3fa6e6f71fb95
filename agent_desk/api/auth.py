"""Login / logout / who am I, and user administration (admin only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.api.deps import (
    COOKIE,
    client_of,
    principal,
    require,
    token_of,
    unit_of_work,
)
from agent_desk.auth import sessions
from agent_desk.auth.roles import ROLE_LABELS, Role
from agent_desk.auth.sessions import Principal
from agent_desk.db.models import OrgUnit, User
from agent_desk.errors import DeskError

router = APIRouter()


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=256)


@router.post("/auth/login")
def login(body: LoginBody, request: Request, response: Response, session: Session = Depends(unit_of_work, scope="function")) -> dict:
    settings = request.app.state.settings
    token = sessions.login(session, settings, body.username, body.password, client_of(request))
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=settings.cookie_secure,
                        max_age=int(settings.token_ttl.total_seconds()), path="/")
    who = sessions.authenticate(session, token)
    return {"token": token, "user": _me(who)}


@router.post("/auth/logout")
def logout(request: Request, response: Response, _who: Principal = Depends(principal),
           session: Session = Depends(unit_of_work, scope="function")) -> dict:
    sessions.logout(session, token_of(request.headers, request.cookies))
    response.delete_cookie(COOKIE, path="/")
    return {"ok": True}


@router.get("/me")
def me(request: Request, who: Principal = Depends(principal)) -> dict:
    link = request.app.state.telephony  # the pages leave out phone controls while the phone system is away
    softphone = request.app.state.settings.softphone is not None and bool(who.extension)  # 网页电话
    return {**_me(who), "telephony": bool(link is not None and link.connected), "softphone": softphone}


def _me(who: Principal) -> dict:
    return {"username": who.username, "display_name": who.display_name, "role": who.role.value,
            "role_label": ROLE_LABELS[who.role], "unit": who.unit_code, "extension": who.extension}


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: str = Field(..., pattern=r"^[A-Za-z0-9_.\-]{2,64}$")
    password: str = Field(..., min_length=8, max_length=256)
    role: Role
    display_name: str = Field("", max_length=64)
    unit: str | None = Field(None, max_length=64)
    extension: str | None = Field(None, pattern=r"^\d{3,8}$")


@router.post("/users", status_code=201)
def add_user(body: NewUser, _who: Principal = Depends(require(Role.ADMIN)),
             session: Session = Depends(unit_of_work, scope="function")) -> dict:
    if body.role == Role.AUDITOR:  # an admin who could make an auditor could read the log that watches admins
        raise DeskError(403, "auditor_by_operator", "审计员账号只能由服务器运维人员通过命令行创建")
    user = sessions.create_user(session, body.username, body.password, body.role, body.display_name, body.unit,
                                body.extension)
    return {"id": user.id, "username": user.username, "role": user.role}


@router.get("/users")
def list_users(_who: Principal = Depends(require(Role.ADMIN, Role.SUPERVISOR)),
               session: Session = Depends(unit_of_work, scope="function")) -> list[dict]:
    rows = session.execute(select(User, OrgUnit.code).outerjoin(OrgUnit, OrgUnit.id == User.org_unit_id)
                           .order_by(User.id)).all()
    return [{"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role, "unit": code,
             "extension": u.extension, "active": u.active} for u, code in rows]
