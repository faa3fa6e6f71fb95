import os
import shutil
import signal
from pathlib import Path

import pytest

# Where each run builds its own Asterisk root (see pytest_configure); one folder per run, by pid.
FRESH_ROOTS = Path("/var/tmp/hotline-test-roots")


def pytest_sessionstart(session):
    """A run stopped by SIGTERM (CI, ``timeout``) tears its fixtures down as on Ctrl-C: the servers the tests
    started are stopped by pid instead of left running with parent pid 1. A second SIGTERM ends it at once."""
    def interrupt(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def pytest_configure(config):
    """First-run paths on every run: unless ``HOTLINE_TEST_ASTERISK_ROOT=cached`` (a developer iterating), the
    session builds the Debian sid root holding Asterisk from scratch (debootstrap, about a minute) into a folder
    of its own, and with it the classic-AGI Python inside the root; ``hotline run``'s test installs into an empty
    state home (secrets, the Whisper model, prompts, the desk's database), and the browser softphone's SIP stack
    is rebuilt with an empty npm cache (tests/component/test_first_run.py). A machine whose caches are warm
    (CI's own) can no longer hide a failure that only a fresh machine would show."""
    from launcher.asterisk import use_host_asterisk

    mode = os.environ.get("HOTLINE_TEST_ASTERISK_ROOT", "fresh")
    if mode not in ("fresh", "cached"):
        raise pytest.UsageError("HOTLINE_TEST_ASTERISK_ROOT must be fresh (the default) or cached")
    if mode == "cached" or use_host_asterisk() or os.geteuid() != 0 or hasattr(config, "workerinput"):
        return
    _remove_dead_roots()
    root = FRESH_ROOTS / f"run-{os.getpid()}"
    os.environ["HOTLINE_ASTERISK_ROOT"] = str(root)
    config.stash[_FRESH_ROOT] = root


_FRESH_ROOT = pytest.StashKey[Path]()


def pytest_collection_finish(session):
    """With end-to-end tests selected, build the run's own root before the first test starts, with progress, so
    no test's timeout pays for debootstrap and the classic-AGI environment (several minutes on a busy machine)."""
    root = session.config.stash.get(_FRESH_ROOT, None)
    if root is None or not any(item.get_closest_marker("asterisk") for item in session.items):
        return
    from launcher.asterisk import _mount, build_root, ensure_agi_python

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def progress(message: str) -> None:
        if reporter is not None:
            reporter.write_line(f"[fresh asterisk root] {message}")

    progress(f"building {root} from scratch (this run's first-run check)")
    build_root(root, progress)
    _mount(root)   # /proc and /dev for the root's pip and venv; unmounted with the root at the end of the run
    ensure_agi_python(root, progress)


def pytest_unconfigure(config):
    root = config.stash.get(_FRESH_ROOT, None)
    if root is not None:
        _remove_root(root)


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    with open("/proc/mounts", encoding="utf-8") as mounts:
        points = [line.split()[1].replace("\\040", " ") for line in mounts]
    return [point for point in points if point.startswith(prefix)]


def _remove_root(root: Path) -> None:
    """Unmount what is mounted inside (the host's /proc and /dev, debootstrap's /sys), then delete; a root
    that still has a mount inside is left alone: deleting through a bind mount would delete the host's files."""
    import subprocess

    from launcher.asterisk import _root_in_use

    for candidate in (root, root.with_name(root.name + ".partial")):
        if not candidate.exists() or _root_in_use(candidate):
            continue
        for point in sorted(_mounts_under(candidate), reverse=True):
            subprocess.run(["umount", "-l", point], check=False)
        if _mounts_under(candidate):
            print(f"[tests] {candidate} still has mounts inside; not removed")
            continue
        shutil.rmtree(candidate, ignore_errors=True)


def _remove_dead_roots() -> None:
    """Roots left by runs that were killed (their pid is gone)."""
    if not FRESH_ROOTS.is_dir():
        return
    for path in FRESH_ROOTS.iterdir():
        pid = path.name.removeprefix("run-").removesuffix(".partial")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            _remove_root(path)


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
