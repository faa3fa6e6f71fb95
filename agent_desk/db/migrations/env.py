"""Alembic environment: the URL comes from the config the caller builds (agent_desk.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import agent_desk.db.models  # noqa: F401  (registers every table on Base.metadata)
from agent_desk.db.base import Base

config = context.config
target_metadata = Base.metadata
# Search structures the migrations create by hand (FTS5 tables, an expression GIN index): not model objects.
HAND_MADE = ("knowledge_fts", "ix_knowledge_articles_search")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (reflected and compare_to is None and str(name).startswith(HAND_MADE))


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata, render_as_batch=True,
                          include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; give a database URL")
run_migrations_online()
