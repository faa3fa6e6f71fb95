"""The knowledge base table. ``title_terms``/``body_terms`` hold the index terms (``terms.document_terms``),
recomputed on every insert and update of the row, so the search index never lags behind the text.

The index itself is per backend, made by migration 0002: on SQLite an FTS5 table kept in sync by
triggers, on PostgreSQL a GIN index over the weighted ``tsvector`` of these two columns.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, String, Text, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from agent_desk.db.base import Base, utcnow
from agent_desk.knowledge.terms import document_terms


class KnowledgeArticle(Base):
    """One answer an agent can give directly: a policy, a how-to, a rule of the hotline itself."""

    __tablename__ = "knowledge_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(String(64), default="", index=True)  # a code of hotline/data/topics.yaml, or ""
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(256), default="")  # where the answer comes from, honestly
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # derived: what the search index reads (title and tags weigh more than the body)
    title_terms: Mapped[str] = mapped_column(Text, default="")
    body_terms: Mapped[str] = mapped_column(Text, default="")


@event.listens_for(KnowledgeArticle, "before_insert")
@event.listens_for(KnowledgeArticle, "before_update")
def _index_terms(_mapper: Mapper[Any], _connection: Connection, article: KnowledgeArticle) -> None:
    article.title_terms = document_terms(" ".join([article.title, *(article.tags or [])]))
    article.body_terms = document_terms(article.body)
