"""Login / logout / who am I / change my password, and user administration (admin only; ``auth.accounts``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field
from sqlalchemy.orm import Session

from agent_desk.api.deps import COOKIE, client_of, principal, require, token_of, unit_of_work
from agent_desk.api.schemas import Body, Ok, Reply
from agent_desk.auth import accounts, sessions
from agent_desk.auth.roles import ROLE_LABELS, Role
from agent_desk.auth.sessions import Principal
from agent_desk.names import Names
from agent_desk.text import ONE_LINE

router = APIRouter()


class LoginBody(Body):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=256)


class Me(Reply):
    username: str
    display_name: str
    role: Role = Field(description="角色代码（词表 roles）")
    role_label: str
    unit: str | None = Field(description="承办单位用户所属单位代码")
    unit_name: str | None = Field(None, description="所属单位名称")
    extension: str | None = Field(description="坐席分机")
    must_change_password: bool = Field(description="须先修改密码（管理员重置或新建后）")


class MeNow(Me):
    telephony: bool = Field(description="坐席工作台当前是否连着电话系统（否则页面不显示通话控制）")
    softphone: bool = Field(description="当前用户是否使用网页电话")


class LoginReply(Reply):
    token: str = Field(description="会话令牌：之后以 Authorization: Bearer <令牌> 调用；同时设置了 HttpOnly Cookie")
    user: Me
    must_change_password: bool


class UserRow(Reply):
    id: int
    username: str
    display_name: str = Field(description="姓名（页面上显示的名字）")
    role: str
    role_label: str = Field(description="角色中文名称")
    unit: str | None = Field(description="承办单位用户所属单位代码")
    unit_name: str | None = Field(description="所属单位名称")
    extension: str | None
    active: bool
    must_change_password: bool
    open_sessions: int = Field(description="未过期的会话数")


class UserCreated(Reply):
    id: int
    username: str
    role: str


class UserRole(Reply):
    username: str
    role: str


class UserActive(Reply):
    username: str
    active: bool


class TemporaryPassword(Reply):
    username: str
    temporary_password: str = Field(description="临时密码，只返回这一次")
    must_change_password: bool


class Revoked(Reply):
    username: str
    revoked: int = Field(description="失效的会话数")


@router.post("/auth/login", summary="登录")
def login(body: LoginBody, request: Request, response: Response,
          session: Session = Depends(unit_of_work, scope="function")) -> LoginReply:
    """以用户名和密码登录，取得会话令牌（同时设置会话 Cookie）。失败次数按账号和来源地址限制（429）。"""
    settings = request.app.state.settings
    token = sessions.login(session, settings, body.username, body.password, client_of(request))
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=settings.cookie_secure,
                        max_age=int(settings.token_ttl.total_seconds()), path="/")
    who = sessions.authenticate(session, token)
    # must_change_password: the page asks for a new password; every other API answers 403 until it is changed
    assert who is not None   # the token was issued a moment ago
    return LoginReply(token=token, user=_me(who, Names(session)), must_change_password=who.must_change_password)


class PasswordChange(Body):
    current_password: str = Field(..., min_length=1, max_length=256)
    new_password: str = Field(..., min_length=8, max_length=256)


@router.post("/auth/password", summary="修改密码")
def change_password(body: PasswordChange, request: Request, who: Principal = Depends(principal),
                    session: Session = Depends(unit_of_work, scope="function")) -> Ok:
    """修改自己的密码（管理员重置后的首次登录必须先修改）。"""
    accounts.change_own_password(session, who, body.current_password, body.new_password, client_of(request))
    return Ok()


@router.post("/auth/logout", summary="退出登录")
def logout(request: Request, response: Response, _who: Principal = Depends(principal),
           session: Session = Depends(unit_of_work, scope="function")) -> Ok:
    """结束当前会话（令牌作废，打开的 WebSocket 数秒内断开）。"""
    token = token_of(request.headers, request.cookies)
    if token:   # principal() has checked it
        sessions.logout(session, token)
    response.delete_cookie(COOKIE, path="/")
    return Ok()


@router.get("/me", summary="当前用户")
def me(request: Request, who: Principal = Depends(principal),
       session: Session = Depends(unit_of_work, scope="function")) -> MeNow:
    """当前登录的用户、角色，以及电话系统和网页电话是否可用。"""
    link = request.app.state.telephony  # the pages leave out phone controls while the phone system is away
    softphone = request.app.state.settings.softphone is not None and bool(who.extension)  # 网页电话
    return MeNow(**_me(who, Names(session)).model_dump(), telephony=bool(link is not None and link.connected),
                 softphone=softphone)


def _me(who: Principal, names: Names) -> Me:
    return Me(username=who.username, display_name=who.display_name, role=who.role, role_label=ROLE_LABELS[who.role],
              unit=who.unit_code, unit_name=names.unit(who.unit_code), extension=who.extension,
              must_change_password=who.must_change_password)


class NewUser(Body):
    username: str = Field(..., pattern=r"^[A-Za-z0-9_.\-]{2,64}$")
    password: str = Field(..., min_length=8, max_length=256)
    role: Role
    display_name: str = Field("", max_length=64, pattern=ONE_LINE)   # no NUL: PostgreSQL would answer 500
    unit: str | None = Field(None, max_length=64)
    extension: str | None = Field(None, pattern=r"^\d{3,8}$")


@router.post("/users", status_code=201, summary="新建用户")
def add_user(body: NewUser, request: Request, who: Principal = Depends(require(Role.ADMIN)),
             session: Session = Depends(unit_of_work, scope="function")) -> UserCreated:
    """新建用户。管理员设定的密码是临时密码，用户首次登录须修改；审计员和平台管理员只能由运维人员通过命令行创建。"""
    user = accounts.add(session, who, body.username, body.password, body.role, body.display_name, body.unit,
                        body.extension, client_of(request))
    return UserCreated(id=user.id, username=user.username, role=user.role)


@router.get("/users", summary="用户列表")
def list_users(_who: Principal = Depends(require(Role.ADMIN, Role.SUPERVISOR)),
               session: Session = Depends(unit_of_work, scope="function")) -> list[UserRow]:
    """全部用户及其状态（是否启用、是否须修改密码、在线会话数）。"""
    return [UserRow.model_validate(row) for row in accounts.listing(session)]


USERNAME = Path(..., pattern=r"^[A-Za-z0-9_.\-]{2,64}$")


class RoleChange(Body):
    role: Role
    unit: str | None = Field(None, max_length=64)


@router.put("/users/{username}/role", summary="修改用户角色")
def set_role(body: RoleChange, request: Request, username: str = USERNAME,
             who: Principal = Depends(require(Role.ADMIN)),
             session: Session = Depends(unit_of_work, scope="function")) -> UserRole:
    """修改用户角色（不能修改自己的；不能授予审计员或平台管理员）。该用户的会话全部失效。"""
    user = accounts.set_role(session, who, username, body.role, body.unit, client_of(request))
    return UserRole(username=user.username, role=user.role)


@router.post("/users/{username}/deactivate", summary="停用用户")
def deactivate(request: Request, username: str = USERNAME, who: Principal = Depends(require(Role.ADMIN)),
               session: Session = Depends(unit_of_work, scope="function")) -> UserActive:
    """停用用户：不能再登录，已有会话立即失效。"""
    accounts.set_active(session, who, username, False, client_of(request))
    return UserActive(username=username, active=False)


@router.post("/users/{username}/reactivate", summary="重新启用用户")
def reactivate(request: Request, username: str = USERNAME, who: Principal = Depends(require(Role.ADMIN)),
               session: Session = Depends(unit_of_work, scope="function")) -> UserActive:
    """重新启用用户。"""
    accounts.set_active(session, who, username, True, client_of(request))
    return UserActive(username=username, active=True)


@router.post("/users/{username}/reset-password", summary="重置密码")
def reset_password(request: Request, username: str = USERNAME, who: Principal = Depends(require(Role.ADMIN)),
                   session: Session = Depends(unit_of_work, scope="function")) -> TemporaryPassword:
    """重置密码：生成临时密码（只显示这一次），用户下次登录须修改；其会话全部失效。"""
    temporary = accounts.reset_password(session, who, username, client_of(request))
    return TemporaryPassword(username=username, temporary_password=temporary, must_change_password=True)


@router.post("/users/{username}/revoke-sessions", summary="使会话失效")
def revoke_sessions(request: Request, username: str = USERNAME, who: Principal = Depends(require(Role.ADMIN)),
                    session: Session = Depends(unit_of_work, scope="function")) -> Revoked:
    """使该用户的全部会话失效（需重新登录）。"""
    revoked = accounts.revoke_sessions(session, who, username, client_of(request))
    return Revoked(username=username, revoked=revoked)
