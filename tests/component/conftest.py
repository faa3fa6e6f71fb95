"""Fixtures the component tests share."""

from __future__ import annotations

import pytest

from tests.support.desk import close_rig, make_rig


@pytest.fixture
def rig(database_url, redis_server):
    """The real desk on the session's database (SQLite, then PostgreSQL) and Redis, one user per role; a module
    that needs other settings defines its own ``rig``."""
    rig = make_rig(database_url, redis_server.authenticated_url)
    yield rig
    close_rig(rig)
