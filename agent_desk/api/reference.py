"""What agents look things up in: handling units (the org tree), dispatch suggestions, the knowledge base."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from agent_desk.api.deps import principal, require, unit_of_work
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.db.models import OrgUnit
from agent_desk.dispatch import suggest_units
from agent_desk.errors import DeskError
from agent_desk.knowledge.models import KnowledgeArticle
from agent_desk.knowledge.search import search as search_knowledge

router = APIRouter()
STAFF = (Role.AGENT, Role.SUPERVISOR)


@router.get("/units")
def units(q: str = Query("", max_length=32), kind: str | None = Query(None, pattern=r"^[a-z_]{1,24}$"),
          subplatform: str | None = Query(None, max_length=32), limit: int = Query(50, ge=1, le=500),
          _who: Principal = Depends(principal), session: Session = Depends(unit_of_work, scope="function")) -> list[dict]:
    stmt = select(OrgUnit).where(OrgUnit.active.is_(True)).order_by(OrgUnit.level, OrgUnit.code).limit(limit)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(OrgUnit.name.like(like), OrgUnit.code.like(like)))
    if kind:
        stmt = stmt.where(OrgUnit.kind == kind)
    if subplatform:
        stmt = stmt.where(OrgUnit.subplatform == subplatform)
    return [{"code": u.code, "name": u.name, "kind": u.kind, "level": u.level, "subplatform": u.subplatform}
            for u in session.scalars(stmt)]


@router.get("/knowledge")
def knowledge(q: str = Query(..., min_length=1, max_length=64), topic: str | None = Query(None, max_length=64),
              limit: int = Query(10, ge=1, le=50), _who: Principal = Depends(require(*STAFF)),
              session: Session = Depends(unit_of_work, scope="function")) -> list[dict]:
    return [{"code": h.code, "title": h.title, "snippet": h.snippet, "score": h.score}
            for h in search_knowledge(session, q, limit=limit, topic=topic)]


@router.get("/dispatch/suggest")
def dispatch_suggest(topic: str = Query("", max_length=64), subplatform: str | None = Query(None, max_length=32),
                     text: str = Query("", max_length=2000), _who: Principal = Depends(require(*STAFF)),
                     session: Session = Depends(unit_of_work, scope="function")) -> list[dict]:
    """派单目录 and 直派清单: which unit should host this matter, and why."""
    return [{"unit": s.unit_code, "name": s.unit_name, "source": s.source, "why": s.why}
            for s in suggest_units(session, topic, subplatform, text)]


@router.get("/knowledge/{code}")
def knowledge_article(code: str = Path(..., pattern=r"^[A-Za-z0-9_.\-]{1,64}$"),
                      _who: Principal = Depends(require(*STAFF)), session: Session = Depends(unit_of_work, scope="function")) -> dict:
    article = session.scalar(select(KnowledgeArticle).where(KnowledgeArticle.code == code,
                                                            KnowledgeArticle.active.is_(True)))
    if article is None:
        raise DeskError(404, "unknown_article", f"知识条目“{code}”不存在")
    return {"code": article.code, "title": article.title, "body": article.body, "topic": article.topic,
            "source": article.source, "updated_at": article.updated_at.isoformat()}
