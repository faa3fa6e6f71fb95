"""What every endpoint shares in its contract: the error body, the base of request and response models, and the
tags the API document groups endpoints under (Chinese names and descriptions, as integrators read them).

Request models refuse unknown fields (``Body``); response models declare every field they return (``Reply``,
also ``extra="forbid"``): a handler that starts returning something undeclared fails the tests instead of
silently reaching integrators unannounced.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

API_PREFIX = "/api/v1"


class Body(BaseModel):
    """A request body: unknown fields are refused (422), text is trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Reply(BaseModel):
    """A response body: every field declared."""

    model_config = ConfigDict(extra="forbid")


class FieldProblem(Reply):
    field: str = Field(description="出错的字段（路径以点分隔）；空表示整个请求体")
    problem: str = Field(description="问题说明")
    type: str = Field(description="问题类型代码")


class ErrorBody(Reply):
    """出错时的响应体。所有 4xx（以及服务不可用的 503）都是这一形状。"""

    error: str = Field(description="稳定的错误代码，供程序判断，例如 forbidden_role、unknown_ticket、invalid_request")
    message: str = Field(description="给人看的中文说明")
    fields: list[FieldProblem] | None = Field(None, description="请求内容不合法（422）时，逐项列出问题")


class Ok(Reply):
    ok: bool = True


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# Documented on every endpoint: what any of them may answer besides its success.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("请求格式错误：请求体无法解析（error: http_400）"),
    401: _error("未登录或登录已失效（error: not_authenticated / session_expired）"),
    403: _error("当前角色或用户无权执行此操作（error: forbidden_role 等）"),
    404: _error("对象不存在，或对当前用户不可见"),
    409: _error("与当前状态冲突，例如工单状态不允许此操作"),
    413: _error("请求内容过大（超过 256 KB）"),
    422: _error("请求内容不合法（error: invalid_request，fields 列出问题）"),
    429: _error("尝试过于频繁，请稍后再试"),
    503: _error("依赖的服务暂时不可用（电话系统、实时数据），功能降级，请稍后重试"),
}

TAGS = [
    {"name": "登录与用户", "description": "登录、退出、当前用户；系统管理员管理用户。"},
    {"name": "工单", "description": "受理（任何渠道）、查询、查看、按办理流程逐步办理。其他渠道（网站、微信、短信、"
                                  "电子邮件、移动端）的接入方以渠道接入（gateway）账号调用 POST /tickets 创建工单。"},
    {"name": "来电", "description": "当前通话（弹屏）、通话记录、录音、通话转写（实时与检索）、转接与紧急联动。"},
    {"name": "坐席", "description": "坐席签入、签出、置忙、技能；班长监听、耳语、强插。"},
    {"name": "网页电话", "description": "浏览器软电话的注册信息。"},
    {"name": "参考数据", "description": "承办单位、派单建议、知识库、词表。"},
    {"name": "监督与报表", "description": "考核指标、观管评、报表、实时监控、未诉先办预警。"},
    {"name": "审计", "description": "审计员查阅与导出审计日志。"},
]
