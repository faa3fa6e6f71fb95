"""User administration beyond ``api.auth``'s create / list / role / deactivate / reset (issue 19, point 10): a user's
name and extension, and the roles an administrator may grant, for the 用户管理 page (``users.html``).

Administrators only; every change goes through ``auth.accounts`` and is written to the audit log there.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field, model_validator
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, unit_of_work
from agent_desk.api.schemas import Body, Reply
from agent_desk.auth import accounts
from agent_desk.auth.roles import ROLE_LABELS, Role
from agent_desk.auth.sessions import Principal
from agent_desk.text import ONE_LINE

router = APIRouter()
USERNAME = Path(..., pattern=r"^[A-Za-z0-9_.\-]{2,64}$")


class ProfileChange(Body):
    """Only the fields given change; ``extension: null`` removes the extension."""

    display_name: str | None = Field(None, min_length=1, max_length=64, pattern=ONE_LINE, description="姓名")
    extension: str | None = Field(None, pattern=r"^\d{3,8}$", description="坐席分机号；传 null 表示解除绑定")

    @model_validator(mode="after")
    def something(self) -> ProfileChange:
        if not self.model_fields_set:
            raise ValueError("请至少修改一项：姓名或分机号")
        return self


class Profile(Reply):
    username: str
    display_name: str
    extension: str | None


class GrantableRole(Reply):
    code: Role = Field(description="角色代码")
    label: str = Field(description="角色中文名称")
    needs_unit: bool = Field(description="须指定所属承办单位")


@router.patch("/users/{username}", summary="修改用户姓名或分机")
def update_user(body: ProfileChange, request: Request, username: str = USERNAME,
                who: Principal = Depends(require(Role.ADMIN)),
                session: Session = Depends(unit_of_work, scope="function")) -> Profile:
    """修改用户的姓名（工作台上显示的名字）或坐席分机号（null 表示解除绑定）。只修改传入的字段；记入审计日志。"""
    user = accounts.update_profile(session, who, username, display_name=body.display_name,
                                   extension=body.extension,
                                   clear_extension="extension" in body.model_fields_set and body.extension is None,
                                   client=client_of(request))
    return Profile(username=user.username, display_name=user.display_name, extension=user.extension)


@router.get("/user-roles", summary="可授予的角色")
def grantable_roles(_who: Principal = Depends(require(Role.ADMIN))) -> list[GrantableRole]:
    """系统管理员在“用户管理”中可以授予的角色（审计员和平台管理员只能由服务器运维人员通过命令行授予）。"""
    return [GrantableRole(code=role, label=ROLE_LABELS[role], needs_unit=role == Role.UNIT)
            for role in Role if role not in accounts.OPERATOR_ONLY]
