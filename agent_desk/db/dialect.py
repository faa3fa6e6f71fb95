"""What differs between the desk's two databases and is written once: INSERT … ON CONFLICT."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session) -> Callable[..., Any]:
    """``insert`` of the session's database (PostgreSQL or SQLite): both statements have ``on_conflict_do_update``
    and ``on_conflict_do_nothing`` with the same arguments."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
