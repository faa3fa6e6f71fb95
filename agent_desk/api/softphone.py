"""网页电话: the agent's own browser softphone registration (extension, SIP password, WebSocket address).

Only for the signed-in agent or supervisor and only their own extension; every hand-out of the password is
audited and never cached. 404 while browser softphones are off (``agents.webrtc``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, unit_of_work
from agent_desk.api.schemas import Reply
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.errors import DeskError

router = APIRouter()


class Registration(Reply):
    """网页电话注册所需的信息（含 SIP 密码：只发给本人，不缓存，留痕）。"""

    extension: str
    uri: str = Field(description="SIP 地址")
    password: str = Field(description="该分机的 SIP 密码")
    socket: str = Field(description="ws:// 或 wss:// 的 SIP over WebSocket 地址（随页面的协议）")
    display_name: str


@router.get("/softphone", summary="网页电话注册信息")
def credentials(request: Request, response: Response, who: Principal = Depends(require(Role.AGENT, Role.SUPERVISOR)),
                session: Session = Depends(unit_of_work, scope="function")) -> Registration:
    """当前用户本人分机的网页电话注册信息（话务员和平台人员）。"""
    phones = request.app.state.settings.softphone
    if phones is None:
        raise DeskError(404, "softphone_disabled", "本中心未启用网页电话，请使用话机或软电话")
    if not who.extension:
        raise DeskError(409, "no_extension", "当前账号未绑定坐席分机，请联系管理员")
    host = request.url.hostname or ""
    try:
        details = phones.credentials(who.extension, f"[{host}]" if ":" in host else host,
                                     secure=request.url.scheme == "https")
    except KeyError:
        raise DeskError(409, "no_sip_account", f"分机 {who.extension} 没有话机账号，请联系管理员") from None
    except ValueError:
        raise DeskError(400, "bad_host", "无法识别访问地址，请使用管理员提供的地址打开坐席工作台") from None
    audit(session, who, "softphone_credentials", "extension", who.extension, details["socket"], client_of(request))
    response.headers["Cache-Control"] = "no-store"
    return Registration(**details, display_name=who.display_name)
