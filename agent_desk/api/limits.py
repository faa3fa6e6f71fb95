"""GET /limits: the length limit of every text field the pages send, read from the request models themselves.

The pages show these limits as people type and refuse longer text with a message (never cutting it silently); the
numbers exist once, in the models (``tickets.service``), so a page can never allow what the API refuses.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from annotated_types import MaxLen
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from agent_desk.api.deps import principal
from agent_desk.api.schemas import Reply
from agent_desk.auth.sessions import Principal
from agent_desk.tickets import service

router = APIRouter()


def _is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_text(arg) for arg in get_args(annotation))
    return False


def text_limits(model: type[BaseModel]) -> dict[str, int]:
    """field → its maximum length in characters, for the model's text fields that have one."""
    out = {}
    for name, info in model.model_fields.items():
        if not _is_text(info.annotation):
            continue
        for meta in info.metadata:
            if isinstance(meta, MaxLen):
                out[name] = meta.max_length
    return out


def limits() -> dict[str, Any]:
    actions = {name: text_limits(spec.body) for name, spec in service.ACTIONS.items() if spec.body is not None}
    actions["merge"] = text_limits(service.MergeBody)
    actions["unmerge"] = text_limits(service.UnmergeBody)
    return {"ticket": text_limits(service.TicketDraft), "edit": text_limits(service.TicketEdit),
            "search": text_limits(service.SearchQuery), "actions": actions}


class Limits(Reply):
    ticket: dict[str, int] = Field(description="受理工单（POST /tickets）各文字字段的最大字数")
    edit: dict[str, int] = Field(description="修改工单（PATCH /tickets/{number}）各文字字段的最大字数")
    search: dict[str, int] = Field(description="查询工单（GET /tickets）各文字条件的最大字数")
    actions: dict[str, dict[str, int]] = Field(description="办理操作代码 → 该操作各文字字段的最大字数")


@router.get("/limits", summary="表单字数上限")
def get_limits(_who: Principal = Depends(principal)) -> Limits:
    """页面填写时显示的字数上限，与接口校验使用同一定义：超过上限的内容会被拒绝（422），页面据此提前提示，不会截断。"""
    return Limits.model_validate(limits())
