"""Search the knowledge base, and keep articles (and so the index) up to date.

Two steps, so both backends rank alike:
1. the database's full-text index finds candidates holding *any* query term (SQLite: FTS5 ``MATCH`` ranked
   by bm25 with the title weighing more; PostgreSQL: ``@@`` on the GIN-indexed tsvector, ranked by
   ``ts_rank``), at most ``CANDIDATES`` of them;
2. one Python function scores them: how many query terms the title and the body cover, and whether the
   query's words appear verbatim. An article must cover half of the query's terms (all of them for a
   1–2 term query), so a query whose words are apart in the text, or that says more than the article
   (社保卡丢了 finds 社保卡挂失), still finds it, and one sharing a single common bigram with everything
   finds nothing.

The query never reaches SQL as text: it is cut into terms (``terms.query_terms``: Chinese characters and
Latin/digit words only) that are passed as bound parameters, so quotes, FTS5 operators (``"``, ``*``,
``NEAR``, ``-``, ``OR``) and SQL fragments are just words or nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from collections.abc import Iterable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from agent_desk.db.upsert import Status, upsert
from agent_desk.knowledge.models import KnowledgeArticle
from agent_desk.knowledge.terms import fold, query_terms, runs

CANDIDATES = 200
MARK = ("【", "】")            # how a snippet marks what matched (plain text: safe to show anywhere)
SNIPPET_BEFORE, SNIPPET_AFTER = 20, 60
# Same expression as the GIN index of migration 0002, so PostgreSQL can use the index.
PG_VECTOR = ("(setweight(to_tsvector('simple'::regconfig, title_terms), 'A') || "
             "setweight(to_tsvector('simple'::regconfig, body_terms), 'B'))")


@dataclass(frozen=True)
class Hit:
    article_id: int
    code: str
    title: str
    snippet: str   # a window of the body (or the title) with every match between MARK brackets
    score: float   # higher is better; comparable within one result list only


def search(session: Session, query: str, limit: int = 10, topic: str | None = None) -> list[Hit]:
    """Active articles matching ``query`` (optionally of one ``topic``), best first."""
    terms = query_terms(query)
    if not terms or limit <= 0:
        return []
    ids = _candidates(session, terms, topic, max(CANDIDATES, limit * 5))
    if not ids:
        return []
    articles = session.scalars(select(KnowledgeArticle).where(KnowledgeArticle.id.in_(ids))).all()
    phrases = runs(query)
    scored = []
    for article in articles:
        score = _score(article, terms, phrases)
        if score is not None:
            scored.append((score, article))
    scored.sort(key=lambda pair: (-pair[0], pair[1].code))
    return [Hit(a.id, a.code, a.title, _snippet(a, terms, phrases), round(score, 4)) for score, a in scored[:limit]]


def upsert_article(session: Session, *, code: str, title: str, body: str, topic: str = "",
                   tags: Iterable[str] = (), source: str = "", active: bool = True) -> tuple[KnowledgeArticle, Status]:
    """Create or update the article ``code``. Its index terms (and so the index) follow on flush."""
    return upsert(session, KnowledgeArticle, {"code": code},
                  {"title": title, "body": body, "topic": topic, "tags": list(tags), "source": source,
                   "active": active})


# ── step 1: candidates from the index ────────────────────────────────────────────────────────────────
def _candidates(session: Session, terms: list[str], topic: str | None, limit: int) -> list[int]:
    params = {"topic": topic, "limit": limit}
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # Each term is a quoted FTS5 string; terms hold no '"' (only Han characters and [0-9a-z]).
        params["match"] = " OR ".join(f'"{term}"' for term in terms)
        sql = ("SELECT a.id FROM knowledge_fts JOIN knowledge_articles a ON a.id = knowledge_fts.rowid "
               "WHERE knowledge_fts MATCH :match AND a.active AND (:topic IS NULL OR a.topic = :topic) "
               "ORDER BY bm25(knowledge_fts, 5.0, 1.0) LIMIT :limit")
    elif dialect == "postgresql":
        # to_tsquery sees only quoted terms joined by |; terms hold no quote or backslash.
        params["query"] = " | ".join(f"'{term}'" for term in terms)
        sql = (f"SELECT a.id FROM knowledge_articles a, to_tsquery('simple', :query) q "
               f"WHERE {PG_VECTOR} @@ q AND a.active AND (CAST(:topic AS text) IS NULL OR a.topic = :topic) "
               f"ORDER BY ts_rank({PG_VECTOR}, q) DESC LIMIT :limit")
    else:
        raise NotImplementedError(f"knowledge search on {dialect}")
    return list(session.scalars(text(sql), params))


# ── step 2: one scoring for every backend ────────────────────────────────────────────────────────────
TITLE_WEIGHT, BODY_WEIGHT = 3.0, 1.0
TITLE_PHRASE, BODY_PHRASE = 2.0, 0.5


def required_terms(count: int) -> int:
    """How many of a query's ``count`` terms an article must hold: all of 1–2, else half (rounded up)."""
    return count if count <= 2 else math.ceil(count / 2)


def _score(article: KnowledgeArticle, terms: list[str], phrases: list[str]) -> float | None:
    in_title = set(article.title_terms.split())
    in_body = set(article.body_terms.split())
    covered = [t for t in terms if t in in_title or t in in_body]
    if len(covered) < required_terms(len(terms)):
        return None
    title, body = fold(" ".join([article.title, *article.tags])), fold(article.body)
    share = 1.0 / len(terms)
    phrase_share = 1.0 / len(phrases)
    return (TITLE_WEIGHT * share * sum(t in in_title for t in terms)
            + BODY_WEIGHT * share * sum(t in in_body for t in terms)
            + TITLE_PHRASE * phrase_share * sum(p in title for p in phrases)
            + BODY_PHRASE * phrase_share * sum(p in body for p in phrases))


def _snippet(article: KnowledgeArticle, terms: list[str], phrases: list[str]) -> str:
    """A window of the body around its first match (the title when the body has none), matches marked."""
    needles = sorted(set(phrases) | set(terms), key=len, reverse=True)
    for original in (article.body, article.title):
        folded = fold(original)
        spans = _spans(folded, needles)
        if spans:
            start = max(0, spans[0][0] - SNIPPET_BEFORE)
            end = min(len(original), spans[0][0] + SNIPPET_AFTER)
            end = max([end, *(e for s, e in spans if s < end)])  # never cut a match in two
            return ("…" if start else "") + _mark(original, spans, start, end) + ("…" if end < len(original) else "")
    return article.body[:SNIPPET_AFTER] + ("…" if len(article.body) > SNIPPET_AFTER else "")


def _spans(folded: str, needles: list[str]) -> list[tuple[int, int]]:
    """Where the needles occur, merged into non-overlapping spans, in order."""
    found = sorted((m.start(), m.start() + len(n)) for n in needles for m in re.finditer(re.escape(n), folded))
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _mark(original: str, spans: list[tuple[int, int]], start: int, end: int) -> str:
    out, pos = [], start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        out += [original[pos:s], MARK[0], original[s:e], MARK[1]]
        pos = e
    out.append(original[pos:end])
    return "".join(out)
