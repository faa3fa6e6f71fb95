"""Knowledge at hand (可直接答复): the articles most relevant to the transcript or form text, for agents and
supervisors. The request carries the text; nothing of a ticket is read, so nothing is audited here."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy.orm import Session

from agent_desk.api import schemas
from agent_desk.api.deps import require, unit_of_work
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.knowledge.suggestions import MAX_TEXT, suggest_articles

router = APIRouter()
STAFF = (Role.AGENT, Role.SUPERVISOR)


class SuggestionRequest(schemas.Body):
    text: str = Field(..., max_length=20000,
                      description=f"通话转写或工单标题、内容（只比对前 {MAX_TEXT} 字）；可为空，为空时没有建议")
    limit: int = Field(5, ge=1, le=20, description="最多返回几条")


class ArticleSuggestion(schemas.Reply):
    code: str = Field(description="知识条目编号")
    title: str
    topic: str = Field(description="业务分类代码；热线自身规则为空")
    snippet: str = Field(description="条目正文开头")
    score: float = Field(description="相关度（0–1，越大越相关）")
    reasons: list[str] = Field(description="与来电内容共有的词语，最重要的在前")


@router.post("/knowledge/suggestions", summary="可直接答复的知识条目")
def suggestions(body: SuggestionRequest, _who: Principal = Depends(require(*STAFF)),
                session: Session = Depends(unit_of_work, scope="function")) -> list[ArticleSuggestion]:
    """按通话转写或工单内容推荐最相关的在用知识条目（供直接办结时答复），相关度高的在前，并说明共有的词语。
    内容为空、过短或无可比对的文字时返回空列表。"""
    return [ArticleSuggestion(code=s.code, title=s.title, topic=s.topic, snippet=s.snippet, score=s.score,
                              reasons=list(s.reasons))
            for s in suggest_articles(session, body.text, limit=body.limit)]
