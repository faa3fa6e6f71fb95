"""Insert-or-update by a natural key, reporting what happened: reference data loads stay idempotent
(a second load of the same files changes nothing) and can say how many rows they created or changed."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

Status = Literal["created", "updated", "unchanged"]
Row = TypeVar("Row")


def upsert(session: Session, model: type[Row], key: dict[str, Any], values: dict[str, Any]) -> tuple[Row, Status]:
    """The row of ``model`` matching ``key`` (``None`` matches NULL), created or brought up to ``values``.

    Only differing attributes are assigned, so an unchanged row issues no UPDATE. A new row is flushed at
    once: its id is there for the rows that refer to it.
    """
    row = session.scalars(select(model).filter_by(**key)).one_or_none()
    if row is None:
        row = model(**key, **values)
        session.add(row)
        session.flush()
        return row, "created"
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return row, "updated" if changed else "unchanged"
