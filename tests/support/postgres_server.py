"""A throwaway PostgreSQL 15 cluster on a free loopback port, started and stopped by its own pid.

initdb refuses to run as root, so when the tests run as root the cluster belongs to an unprivileged
system user (``postgres`` when the package created it, else ``hotline-pg``, created here). Its files live
in a private temp dir under /tmp (pytest's own temp dirs are root-only, the server could not enter them);
the server log is copied to ``log_dir`` when the server stops, so a failed run can be read afterwards.

The server listens on 127.0.0.1 only (password authentication) and on a unix socket inside its temp dir
(trusted: only root and the cluster's owner can enter that dir). Tests connect over TCP as a login role
that is *not* a superuser and owns its databases, as the desk does in production.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from tests.support.ports import free_port

BIN = Path(os.environ.get("HOTLINE_PG_BIN", "/usr/lib/postgresql/15/bin"))
ADMIN = "postgres"          # the cluster's superuser (unix socket only)
APP_ROLE = "hotline_test"   # what tests log in as over TCP
START_TIMEOUT = 30.0
# A test cluster holds nothing worth keeping: trade durability for speed.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "60",
    "shared_buffers": "32MB",
    "logging_collector": "off",
}


class PostgresError(RuntimeError):
    """The test cluster could not be created or started; the message says why and quotes the log."""


@dataclass
class PostgresServer:
    port: int
    password: str
    base: Path                      # private temp dir: data/, socket/, server.log
    proc: subprocess.Popen
    log_dir: Path | None = None
    databases: list[str] = field(default_factory=list)

    # ── start / stop ─────────────────────────────────────────────────────────
    @classmethod
    def start(cls, log_dir: Path | None = None, attempts: int = 3) -> PostgresServer:
        """initdb a fresh cluster and start it; retries on a lost race for the free port."""
        initdb = BIN / "initdb"
        if not initdb.exists():
            raise PostgresError(f"PostgreSQL 15 is not installed ({initdb} is missing): scripts/setup.sh installs it")
        owner = _cluster_owner()
        base = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        try:
            password = secrets.token_urlsafe(18)
            _initdb(base, owner, password)
            for attempt in range(1, attempts + 1):
                port = free_port()
                proc = _spawn(base, owner, port)
                try:
                    _wait_ready(proc, base, port)
                except PostgresError:
                    if proc.poll() is not None and attempt < attempts and "could not bind" in _log_tail(base):
                        continue  # another process took the port between free_port() and bind()
                    _terminate(proc)
                    raise
                server = cls(port, password, base, proc, log_dir)
                server._create_app_role()
                return server
            raise PostgresError("unreachable")  # pragma: no cover
        except BaseException:
            _keep_log(base, log_dir)
            shutil.rmtree(base, ignore_errors=True)
            raise

    def stop(self) -> None:
        """Fast shutdown by pid (SIGINT to the postmaster = ``pg_ctl stop -m fast``), then remove the files."""
        _terminate(self.proc)
        _keep_log(self.base, self.log_dir)
        shutil.rmtree(self.base, ignore_errors=True)

    # ── databases ────────────────────────────────────────────────────────────
    def create_database(self, name: str | None = None) -> str:
        """A new empty database owned by the test role; returns its SQLAlchemy URL."""
        name = name or f"hotline_{len(self.databases) + 1}_{secrets.token_hex(3)}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(name), sql.Identifier(APP_ROLE)))
        self.databases.append(name)
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql://{APP_ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _create_app_role(self) -> None:
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER PASSWORD {}").format(
                sql.Identifier(APP_ROLE), sql.Literal(self.password)))

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(host=str(self.base / "socket"), port=self.port, user=ADMIN, dbname="postgres",
                               autocommit=True, connect_timeout=5)


def _cluster_owner() -> pwd.struct_passwd | None:
    """None when not root (the cluster belongs to whoever runs the tests); else an unprivileged user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "hotline-pg"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", "/usr/sbin/nologin", "hotline-pg"], check=True, capture_output=True)
    return pwd.getpwnam("hotline-pg")


def _as_owner(owner: pwd.struct_passwd | None) -> dict:
    if owner is None:
        return {}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


def _initdb(base: Path, owner: pwd.struct_passwd | None, password: str) -> None:
    (base / "socket").mkdir()
    pwfile = base / "pwfile"
    pwfile.write_text(secrets.token_urlsafe(18) + "\n")  # the admin's password: never used (socket is trusted)
    if owner is not None:
        for path in (base, base / "socket", pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    os.chmod(base, 0o700)
    result = subprocess.run(
        [str(BIN / "initdb"), "-D", str(base / "data"), "--username", ADMIN, "--pwfile", str(pwfile),
         "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8",
         "--no-sync"],
        capture_output=True, text=True, cwd=base, **_as_owner(owner))
    pwfile.unlink()
    if result.returncode != 0:
        raise PostgresError(f"initdb failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


def _spawn(base: Path, owner: pwd.struct_passwd | None, port: int) -> subprocess.Popen:
    args = [str(BIN / "postgres"), "-D", str(base / "data"), "-p", str(port), "-k", str(base / "socket")]
    for key, value in SETTINGS.items():
        args += ["-c", f"{key}={value}"]
    with open(base / "server.log", "ab") as log:
        if owner is not None:
            os.chown(base / "server.log", owner.pw_uid, owner.pw_gid)
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=base, start_new_session=True, **_as_owner(owner))


def _wait_ready(proc: subprocess.Popen, base: Path, port: int) -> None:
    """Poll until the server accepts a real connection (not just the TCP port), or fail with its log."""
    deadline = time.monotonic() + START_TIMEOUT
    last_error = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PostgresError(f"postgres exited with status {proc.returncode} while starting; "
                                f"its log ({base / 'server.log'}):\n{_log_tail(base)}")
        try:
            psycopg.connect(host=str(base / "socket"), port=port, user=ADMIN, dbname="postgres",
                            connect_timeout=2).close()
            return
        except psycopg.OperationalError as exc:
            last_error = str(exc).strip()
            time.sleep(0.1)
    raise PostgresError(f"postgres did not accept connections within {START_TIMEOUT:.0f} s "
                        f"(last error: {last_error}); its log:\n{_log_tail(base)}")


def _terminate(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # fast shutdown: roll back open transactions, then exit cleanly
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGQUIT)  # immediate shutdown
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _log_tail(base: Path, lines: int = 40) -> str:
    try:
        return "\n".join((base / "server.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _keep_log(base: Path, log_dir: Path | None) -> None:
    if log_dir is not None and (base / "server.log").exists():
        log_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(base / "server.log", log_dir / "postgres.log")
