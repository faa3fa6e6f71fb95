"""What agents look things up in: handling units (the org tree), dispatch suggestions, the knowledge base."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from agent_desk.api.deps import principal, require, unit_of_work
from agent_desk.api.schemas import Reply
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.db.models import OrgUnit
from agent_desk.dispatch import suggest_units
from agent_desk.errors import DeskError
from agent_desk.knowledge.models import KnowledgeArticle
from agent_desk.knowledge.search import search as search_knowledge

router = APIRouter()
STAFF = (Role.AGENT, Role.SUPERVISOR)


class Unit(Reply):
    code: str = Field(description="单位代码（组织机构树）")
    name: str
    kind: str = Field(description="单位类型：province / member_unit / subplatform / district / town …")
    level: str = Field(description="层级：province / city / county / town")
    subplatform: str | None = Field(description="所属市县分平台代码")


class KnowledgeHit(Reply):
    code: str
    title: str
    snippet: str = Field(description="命中的片段")
    score: float


class UnitSuggestion(Reply):
    unit: str = Field(description="建议的主办单位代码")
    name: str
    source: str = Field(description="依据：direct（直派清单）或 catalogue（派单目录）")
    why: str = Field(description="中文理由")


class Article(Reply):
    code: str
    title: str
    body: str
    topic: str
    source: str = Field(description="出处（政策文件等）")
    updated_at: str


@router.get("/units", summary="承办单位")
def units(q: str = Query("", max_length=32), kind: str | None = Query(None, pattern=r"^[a-z_]{1,24}$"),
          subplatform: str | None = Query(None, max_length=32), limit: int = Query(50, ge=1, le=500),
          _who: Principal = Depends(principal),
          session: Session = Depends(unit_of_work, scope="function")) -> list[Unit]:
    """按名称或代码查找在用的单位（组织机构树），可按类型、分平台过滤。"""
    stmt = select(OrgUnit).where(OrgUnit.active.is_(True)).order_by(OrgUnit.level, OrgUnit.code).limit(limit)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(OrgUnit.name.like(like), OrgUnit.code.like(like)))
    if kind:
        stmt = stmt.where(OrgUnit.kind == kind)
    if subplatform:
        stmt = stmt.where(OrgUnit.subplatform == subplatform)
    return [Unit(code=u.code, name=u.name, kind=u.kind, level=u.level, subplatform=u.subplatform)
            for u in session.scalars(stmt)]


@router.get("/knowledge", summary="检索知识库")
def knowledge(q: str = Query(..., min_length=1, max_length=64), topic: str | None = Query(None, max_length=64),
              limit: int = Query(10, ge=1, le=50), _who: Principal = Depends(require(*STAFF)),
              session: Session = Depends(unit_of_work, scope="function")) -> list[KnowledgeHit]:
    """知识库检索（直接办结时引用），相关度高的在前。"""
    return [KnowledgeHit(code=h.code, title=h.title, snippet=h.snippet, score=h.score)
            for h in search_knowledge(session, q, limit=limit, topic=topic)]


@router.get("/dispatch/suggest", summary="派单建议")
def dispatch_suggest(topic: str = Query("", max_length=64), subplatform: str | None = Query(None, max_length=32),
                     text: str = Query("", max_length=2000), _who: Principal = Depends(require(*STAFF)),
                     session: Session = Depends(unit_of_work, scope="function")) -> list[UnitSuggestion]:
    """按派单目录和直派清单，建议由哪个单位主办，并说明理由。"""
    return [UnitSuggestion(unit=s.unit_code, name=s.unit_name, source=s.source, why=s.why)
            for s in suggest_units(session, topic, subplatform, text)]


@router.get("/knowledge/{code}", summary="知识条目")
def knowledge_article(code: str = Path(..., pattern=r"^[A-Za-z0-9_.\-]{1,64}$"),
                      _who: Principal = Depends(require(*STAFF)),
                      session: Session = Depends(unit_of_work, scope="function")) -> Article:
    """一条在用的知识条目全文。"""
    article = session.scalar(select(KnowledgeArticle).where(KnowledgeArticle.code == code,
                                                            KnowledgeArticle.active.is_(True)))
    if article is None:
        raise DeskError(404, "unknown_article", f"知识条目“{code}”不存在")
    return Article(code=article.code, title=article.title, body=article.body, topic=article.topic,
                   source=article.source, updated_at=article.updated_at.isoformat())
