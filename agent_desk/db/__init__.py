"""The desk's database: models, engine/session, and Alembic migrations (SQLite by default, PostgreSQL supported)."""
