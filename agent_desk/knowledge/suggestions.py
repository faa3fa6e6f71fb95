"""Knowledge at hand (可直接答复): the articles most relevant to what the caller says, for direct resolution.

Unlike ``search`` (the agent types a few words; the full-text index finds articles holding them), this takes the
whole transcript or form text, however long and however worded, and ranks every active article by the cosine of
the two in the desk's one representation of text (``suggest.similarity``: TF-IDF over character 2-3-grams, the
same as 并单 and early warning). An article is suggested at cosine ≥ ``THRESHOLD``; its reason is the phrases both
share (自来水发黄). The words of how people ask (``WORDING``: 请问, 怎么办, 来电反映) are cut from both first.

``THRESHOLD`` = 0.1, lower than 并单's 0.3 (a one-line question against a whole answer shares a few words at
most): on the 48 seeded articles and a dozen hand-written questions, every question with an article on its
matter scored 0.13-0.44 for it (小孩上小学怎么报名 → 义务教育入学 0.13, 户口从老家迁过来 → 户口迁移 0.13) while the
best unrelated article stayed below 0.1 once the wording words were cut (大树被台风吹倒 → 驾驶证期满换证 0.07 on
"动车"). ``tests/component/test_knowledge.py`` holds these cases.

The articles' space and rows are built once and kept (``ArticleIndex``) while the articles stay the same: every
call checks one cheap aggregate (how many active articles, the newest change, the highest id) and rebuilds
when it moved, so an article added, edited or retired counts from the next suggestion on. The space is fitted on
the articles themselves with document frequencies whatever their number: what every answer says (办理, 热线)
weighs little, what one says (公积金, 发黄) much.

Bad input never raises: empty, one-character or foreign-script text has no n-gram in the space and gets no
suggestion.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import scipy.sparse as sp
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from agent_desk.knowledge.models import KnowledgeArticle
from suggest.features import join_title
from suggest.similarity import TextSpace, cosine

THRESHOLD = 0.1
# How callers and tickets are worded, not what they ask: cut from the text before it is compared, or 怎么办 would
# join every question to the articles titled "…怎么办".
WORDING = ("市民来电反映", "来电反映", "我想问一下", "请问一下", "问一下", "怎么办", "怎么样", "怎么", "如何", "请问",
           "你好", "您好", "谢谢", "来电", "反映", "咨询", "本人", "一下", "需要", "什么", "可以", "要求")
_WORDING = re.compile("|".join(map(re.escape, WORDING)))
MAX_TEXT = 4000            # of the text compared (the matter is stated first; a long call's tail adds little)
SNIPPET = 80
REASONS = 3


@dataclass(frozen=True)
class ArticleSuggestion:
    article_id: int
    code: str
    title: str
    topic: str
    snippet: str                # the body's beginning
    score: float                # cosine, 0..1
    reasons: tuple[str, ...]    # phrases the text and the article share, heaviest first


@dataclass(frozen=True)
class ArticleIndex:
    """The active articles in the representation: fitted on them, one row each."""

    version: tuple[Any, ...]
    space: TextSpace
    rows: sp.csr_matrix
    articles: tuple[tuple[int, str, str, str, str], ...]   # id, code, title, topic, body
    texts: tuple[str, ...]

    @classmethod
    def build(cls, session: Session, version: tuple[Any, ...]) -> ArticleIndex:
        found = session.execute(select(KnowledgeArticle.id, KnowledgeArticle.code, KnowledgeArticle.title,
                                       KnowledgeArticle.topic, KnowledgeArticle.body, KnowledgeArticle.tags)
                                .where(KnowledgeArticle.active.is_(True)).order_by(KnowledgeArticle.id)).all()
        # the title and tags say what the article answers: said twice, they weigh more than the body
        texts = tuple(_WORDING.sub(" ", join_title(" ".join([title, *(tags or [])]) * 2, body))
                      for _, _, title, _, body, tags in found)
        space, rows = TextSpace.fit_transform(texts, idf=True)
        return cls(version, space, rows, tuple((i, c, t, tp, b) for i, c, t, tp, b, _ in found), texts)


_INDEXES: weakref.WeakKeyDictionary[Engine, ArticleIndex] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _version(session: Session) -> tuple[Any, ...]:
    row = session.execute(select(func.count(KnowledgeArticle.id), func.max(KnowledgeArticle.updated_at),
                                 func.max(KnowledgeArticle.id)).where(KnowledgeArticle.active.is_(True))).one()
    return tuple(row)


def article_index(session: Session) -> ArticleIndex:
    """The index of this database's active articles, rebuilt when they changed (per engine: one per database)."""
    engine = session.get_bind().engine
    version = _version(session)
    with _LOCK:
        index = _INDEXES.get(engine)
    if index is None or index.version != version:
        index = ArticleIndex.build(session, version)
        with _LOCK:
            _INDEXES[engine] = index
    return index


def suggest_articles(session: Session, text: str, limit: int = 5,
                     threshold: float = THRESHOLD) -> list[ArticleSuggestion]:
    """The active articles most relevant to ``text`` (a transcript, a ticket's title + content), best first."""
    text = _WORDING.sub(" ", (text or "")[:MAX_TEXT])
    if limit <= 0 or not text.strip():
        return []
    index = article_index(session)
    query = index.space.transform([text])
    if not query.nnz or not index.rows.shape[0]:
        return []
    scores = cosine(query, index.rows).toarray()[0]
    order = sorted((i for i, s in enumerate(scores) if s >= threshold),
                   key=lambda i: (-scores[i], index.articles[i][1]))
    out = []
    for i in order[:limit]:
        article_id, code, title, topic, body = index.articles[i]
        reasons = index.space.shared_terms(text, index.texts[i], REASONS, (query, index.rows[i]))
        snippet = " ".join(body.split())
        out.append(ArticleSuggestion(article_id, code, title, topic,
                                     snippet[:SNIPPET] + ("…" if len(snippet) > SNIPPET else ""),
                                     round(float(scores[i]), 4), tuple(reasons)))
    return out
