"""Fixtures the component tests share."""

from __future__ import annotations

import pytest
import redis

from tests.support.desk import close_rig, make_rig


@pytest.fixture
def rig(database_url, redis_server):
    """The real desk on the session's database (SQLite, then PostgreSQL) and Redis, one user per role; a module
    that needs other settings defines its own ``rig``."""
    rig = make_rig(database_url, redis_server.authenticated_url)
    yield rig
    close_rig(rig)


@pytest.fixture
def plain(redis_server):
    """A synchronous Redis client on the session's server, answers decoded (what a test writes and reads directly)."""
    client = redis.Redis.from_url(redis_server.authenticated_url, decode_responses=True)
    yield client
    client.close()
