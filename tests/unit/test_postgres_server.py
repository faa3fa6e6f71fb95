"""The throwaway PostgreSQL of the tests says clearly what is missing instead of failing obscurely."""

from __future__ import annotations

import pytest

from tests.support import postgres_server
from tests.support.postgres_server import PostgresError, PostgresServer


def test_missing_binaries_are_named(monkeypatch, tmp_path):
    monkeypatch.setattr(postgres_server, "BIN", tmp_path / "no-such-postgres" / "bin")
    with pytest.raises(PostgresError, match=r"PostgreSQL 15 is not installed .*initdb is missing.*scripts/setup\.sh"):
        PostgresServer.start()
