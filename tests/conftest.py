import os
import signal

import pytest


def pytest_sessionstart(session):
    """A run stopped by SIGTERM (CI, ``timeout``) tears its fixtures down as on Ctrl-C: the servers the tests
    started are stopped by pid instead of left running with parent pid 1. A second SIGTERM ends it at once."""
    def interrupt(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def pytest_collection_modifyitems(config, items):
    # The end-to-end scenarios need root (chroot, bind mounts) to run the real Asterisk.
    if os.geteuid() != 0:
        raise pytest.UsageError("the end-to-end tests start a real Asterisk in a chroot: run them as root")


# ── databases: every desk test runs on SQLite and on a real PostgreSQL ───────────────────────────────
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def new_database(tmp_path_factory, request):
    """``new_database(backend, migrate=True) -> url``: a fresh database of its own (PostgreSQL: one
    throwaway server per test session, started on first use; one database per call)."""
    from agent_desk.db.migrate import upgrade
    from tests.support.postgres_server import PostgresServer

    servers: list[PostgresServer] = []

    def make(backend: str, migrate: bool = True) -> str:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'desk.db'}"
        elif backend == "postgresql":
            if not servers:
                servers.append(PostgresServer.start(log_dir=tmp_path_factory.mktemp("postgres-log")))
                request.addfinalizer(servers[0].stop)
            url = servers[0].create_database()
        else:
            raise ValueError(f"unknown backend {backend!r}")
        if migrate:
            upgrade(url)
        return url

    return make


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, new_database) -> str:
    """A migrated database shared by the session's tests on one backend: write rows with unique codes."""
    return new_database(request.param)


@pytest.fixture(scope="session")
def db(database_url):
    """A ``Database`` (engine + sessions) on ``database_url``."""
    from agent_desk.db.session import Database

    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server on a free loopback port with a password (``authenticated_url`` carries it)."""
    from tests.support.redis_server import RedisServer

    server = RedisServer.start(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()
