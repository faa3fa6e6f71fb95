"""Login / logout / who am I / change my password, and user administration (admin only; ``auth.accounts``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from agent_desk.api.deps import COOKIE, client_of, principal, require, token_of, unit_of_work
from agent_desk.api.schemas import Body
from agent_desk.auth import accounts, sessions
from agent_desk.auth.roles import ROLE_LABELS, Role
from agent_desk.auth.sessions import Principal

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
    # must_change_password: the page asks for a new password; every other API answers 403 until it is changed
    return {"token": token, "user": _me(who), "must_change_password": who.must_change_password}


class PasswordChange(Body):
    current_password: str = Field(..., min_length=1, max_length=256)
    new_password: str = Field(..., min_length=8, max_length=256)


@router.post("/auth/password")
def change_password(body: PasswordChange, request: Request, who: Principal = Depends(principal),
                    session: Session = Depends(unit_of_work, scope="function")) -> dict:
    """修改自己的密码（管理员重置后的首次登录必须先修改）。"""
    accounts.change_own_password(session, who, body.current_password, body.new_password, client_of(request))
    return {"ok": True}


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
            "role_label": ROLE_LABELS[who.role], "unit": who.unit_code, "extension": who.extension,
            "must_change_password": who.must_change_password}


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: str = Field(..., pattern=r"^[A-Za-z0-9_.\-]{2,64}$")
    password: str = Field(..., min_length=8, max_length=256)
    role: Role
    display_name: str = Field("", max_length=64)
    unit: str | None = Field(None, max_length=64)
    extension: str | None = Field(None, pattern=r"^\d{3,8}$")


@router.post("/users", status_code=201)
def add_user(body: NewUser, request: Request, who: Principal = Depends(require(Role.ADMIN)),
             session: Session = Depends(unit_of_work, scope="function")) -> dict:
    """新建用户。管理员设定的密码是临时密码，用户首次登录须修改；审计员和平台管理员只能由运维人员通过命令行创建。"""
    user = accounts.add(session, who, body.username, body.password, body.role, body.display_name, body.unit,
                        body.extension, client_of(request))
    return {"id": user.id, "username": user.username, "role": user.role}


@router.get("/users")
def list_users(_who: Principal = Depends(require(Role.ADMIN, Role.SUPERVISOR)),
               session: Session = Depends(unit_of_work, scope="function")) -> list[dict]:
    """全部用户及其状态（是否启用、是否须修改密码、在线会话数）。"""
    return accounts.listing(session)


USERNAME = Path(..., pattern=r"^[A-Za-z0-9_.\-]{2,64}$")


class RoleChange(Body):
    role: Role
    unit: str | None = Field(None, max_length=64)


@router.put("/users/{username}/role")
def set_role(body: RoleChange, request: Request, username: str = USERNAME,
             who: Principal = Depends(require(Role.ADMIN)), session: Session = Depends(unit_of_work, scope="function")) -> dict:
    """修改用户角色（不能修改自己的；不能授予审计员或平台管理员）。该用户的会话全部失效。"""
    user = accounts.set_role(session, who, username, body.role, body.unit, client_of(request))
    return {"username": user.username, "role": user.role}


@router.post("/users/{username}/deactivate")
def deactivate(request: Request, username: str = USERNAME, who: Principal = Depends(require(Role.ADMIN)),
               session: Session = Depends(unit_of_work, scope="function")) -> dict:
    """停用用户：不能再登录，已有会话立即失效。"""
    accounts.set_active(session, who, username, False, client_of(request))
    return {"username": username, "active": False}


@router.post("/users/{username}/reactivate")
def reactivate(request: Request, username: str = USERNAME, who: Principal = Depends(require(Role.ADMIN)),
               session: Session = Depends(unit_of_work, scope="function")) -> dict:
    """重新启用用户。"""
    accounts.set_active(session, who, username, True, client_of(request))
    return {"username": username, "active": True}


@router.post("/users/{username}/reset-password")
def reset_password(request: Request, username: str = USERNAME, who: Principal = Depends(require(Role.ADMIN)),
                   session: Session = Depends(unit_of_work, scope="function")) -> dict:
    """重置密码：生成临时密码（只显示这一次），用户下次登录须修改；其会话全部失效。"""
    temporary = accounts.reset_password(session, who, username, client_of(request))
    return {"username": username, "temporary_password": temporary, "must_change_password": True}


@router.post("/users/{username}/revoke-sessions")
def revoke_sessions(request: Request, username: str = USERNAME, who: Principal = Depends(require(Role.ADMIN)),
                    session: Session = Depends(unit_of_work, scope="function")) -> dict:
    """使该用户的全部会话失效（需重新登录）。"""
    revoked = accounts.revoke_sessions(session, who, username, client_of(request))
    return {"username": username, "revoked": revoked}
