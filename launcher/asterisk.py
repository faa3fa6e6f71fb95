"""Run a real Asterisk 22 locally: the host's own ``asterisk`` if it has one, else a cached Debian sid root.

Debian 12 ships no Asterisk, and installing sid packages on the host would upgrade libc; so the runner
builds a separate root filesystem with debootstrap once (about 45 s, ~500 MB), caches it, and runs
Asterisk inside it with ``chroot``. The chroot shares the host's network, so AMI, SIP and FastAGI all
meet on 127.0.0.1. Several instances (the center, a peer gateway in tests) can share one root: each
has its own instance directory, config and ports.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

ROOT_PACKAGES = (
    "asterisk",
    "asterisk-modules",
    "asterisk-core-sounds-en-gsm",
    "asterisk-moh-opsound-gsm",
    "tzdata",
    "python3",        # classic AGI scripts (agi-bin) run where Asterisk runs
    "python3-venv",
)
DEFAULT_ROOT = Path("/var/cache/hotline/asterisk-sid")
READY_MARK = ".hotline-root-ready"


class RunnerError(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"[asterisk] {message}", file=sys.stderr, flush=True)


def default_root() -> Path:
    return Path(os.environ.get("HOTLINE_ASTERISK_ROOT", DEFAULT_ROOT))


def use_host_asterisk() -> bool:
    mode = os.environ.get("HOTLINE_ASTERISK_MODE", "auto")
    if mode not in ("auto", "host", "chroot"):
        raise RunnerError(f"HOTLINE_ASTERISK_MODE must be auto, host or chroot, not {mode!r}")
    if mode == "auto":
        return shutil.which("asterisk") is not None
    return mode == "host"


def build_root(root: Path, progress: Callable[[str], None] = say) -> Path:
    """Build the Debian sid root holding Asterisk, once. Idempotent: a ready root is reused as is."""
    if (root / READY_MARK).exists():
        if not _root_in_use(root):
            _separate_asterisk_uid(root, progress)  # roots built before this check existed
        return root
    if shutil.which("debootstrap") is None:
        progress("installing debootstrap (apt-get)")
        _run(["apt-get", "install", "-y", "-qq", "debootstrap"],
             env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    partial = root.with_name(root.name + ".partial")
    if partial.exists():
        _unmount_all(partial)
        shutil.rmtree(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    mirror = os.environ.get("HOTLINE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    progress(f"building the Debian sid root for Asterisk in {root} (one time, about a minute)")
    cmd = [
        "debootstrap", "--variant=minbase", "--include=" + ",".join(ROOT_PACKAGES),
        "sid", str(partial), mirror,
    ]
    started = time.monotonic()
    # ``with``: the pipe is closed and the child reaped however the loop ends (an unclosed pipe is a
    # ResourceWarning, which the test suite turns into an error: it hid on every machine with a cached root).
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        stage = ""
        retrieved = 0
        for line in proc.stdout:
            line = line.rstrip()
            if line.startswith("I: Retrieving"):
                retrieved += 1
                if retrieved % 25 == 0:
                    progress(f"  downloaded {retrieved} packages ({time.monotonic() - started:.0f} s)")
                continue
            if line.startswith("I: ") and line[3:].split(" ")[0] != stage:
                stage = line[3:].split(" ")[0]
                progress(f"  {line[3:]} ({time.monotonic() - started:.0f} s)")
            elif line.startswith(("E: ", "W: ")):
                progress(f"  {line}")
    if proc.returncode != 0:
        raise RunnerError(f"debootstrap failed (exit {proc.returncode}); see {partial}/debootstrap/debootstrap.log")
    if not (partial / "usr/sbin/asterisk").exists():
        raise RunnerError("debootstrap finished but the root holds no /usr/sbin/asterisk")
    _separate_asterisk_uid(partial, progress)
    (partial / READY_MARK).write_text(" ".join(ROOT_PACKAGES) + "\n")
    if root.exists():
        _unmount_all(root)
        shutil.rmtree(root)
    partial.rename(root)
    progress(f"root ready in {time.monotonic() - started:.0f} s")
    return root


AGI_PYTHON = "/opt/hotline-agi"


def ensure_agi_python(root: Path | None, progress: Callable[[str], None] = say) -> None:
    """The Python environment classic-AGI scripts run in, where Asterisk runs.

    In the chroot that is Debian sid's python3 with a venv holding this project (built as a wheel from
    the checkout) and its dependencies from PyPI. Dependencies are installed once per pyproject.toml;
    the project itself is reinstalled (seconds) whenever its code changed.
    """
    from hotline.paths import PROJECT_ROOT

    base = root / AGI_PYTHON.lstrip("/") if root else Path(AGI_PYTHON)
    code_stamp = base / f".code-{_fingerprint(PROJECT_ROOT, code=True)}"
    if code_stamp.exists():
        return
    deps_stamp = base / f".deps-{_fingerprint(PROJECT_ROOT, code=False)}"
    wrap = (lambda *cmd: ["chroot", str(root), *cmd]) if root else (lambda *cmd: list(cmd))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not (root or Path("/")).joinpath("usr/lib/python3/dist-packages").exists() or \
            not (root or Path("/")).joinpath("usr/bin/python3").exists():
        progress("installing python3 where Asterisk runs (for classic AGI)")
        # The registry's sid snapshot may be older than its Release file's Valid-Until allows.
        apt = ("apt-get", "-o", "Acquire::Check-Valid-Until=false")
        _run(wrap(*apt, "update", "-qq"), env=env)
        _run(wrap(*apt, "install", "-y", "-qq", "python3", "python3-venv"), env=env)
    # The index is reached from the host (its pip settings, proxies and CAs), never from inside the root:
    # wheels for the root's Python are fetched here and installed there with --no-index.
    clean = {k: v for k, v in env.items() if not k.startswith("PIP_")}
    version = subprocess.run(wrap("python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"),
                             capture_output=True, text=True, check=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="hotline-wheels-"))
    house = (root / "tmp" / "hotline-wheelhouse") if root else work / "house"
    inside_house = "/tmp/hotline-wheelhouse" if root else str(house)
    try:
        built, own = work / "built", work / "own"
        _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(own), str(PROJECT_ROOT)])
        wheel = next(own.glob("*.whl"))
        shutil.rmtree(house, ignore_errors=True)
        house.mkdir(parents=True)
        shutil.copy(wheel, house)
        pip = [f"{AGI_PYTHON}/bin/pip", "install", "-q", "--disable-pip-version-check", "--no-index",
               "--find-links", inside_house]
        if deps_stamp.exists():
            progress(f"updating this project in the classic-AGI environment {AGI_PYTHON}")
            _run(wrap(*pip, "--no-deps", "--force-reinstall", f"{inside_house}/{wheel.name}"), env=clean)
        else:
            progress(f"building the classic-AGI Python {version} environment {AGI_PYTHON} (once, about a minute)")
            # Pure-Python dependencies that PyPI ships only as sources become wheels here first.
            _run([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(built), str(PROJECT_ROOT)])
            _run([sys.executable, "-m", "pip", "download", "-q", "-d", str(house), "--python-version", version,
                  "--only-binary=:all:", "--find-links", str(built),
                  *[arg for tag in ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_27_x86_64",
                                    "manylinux_2_28_x86_64", "linux_x86_64") for arg in ("--platform", tag)],
                  str(wheel)])
            _run(wrap("python3", "-m", "venv", "--clear", AGI_PYTHON), env=clean)
            _run(wrap(*pip, f"{inside_house}/{wheel.name}"), env=clean)
            deps_stamp.touch()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(house, ignore_errors=True)
    for old in base.glob(".code-*"):
        old.unlink()
    code_stamp.touch()
    progress("classic-AGI Python environment ready")


def _fingerprint(project: Path, code: bool) -> str:
    import hashlib

    digest = hashlib.sha256((project / "pyproject.toml").read_bytes())
    if code:
        for package in ("hotline", "agi_scripts", "ivr", "agent_desk", "launcher"):
            for path in sorted((project / package).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    digest.update(str(path.relative_to(project)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _ids(passwd: Path, group: Path) -> set[int]:
    ids = set()
    for path in (passwd, group):
        for line in path.read_text().splitlines():
            fields = line.split(":")
            if len(fields) > 2 and fields[2].isdigit():
                ids.add(int(fields[2]))
    return ids


def _separate_asterisk_uid(root: Path, progress: Callable[[str], None]) -> None:
    """Give the root's asterisk user an id no host account has.

    The chroot shares the host's kernel: Asterisk running as uid 105 inside is uid 105 outside, which
    on the host may be postgres or another service. A dedicated id keeps it from touching their files.
    """
    if not (root / "etc/passwd").exists():
        return
    used = _ids(Path("/etc/passwd"), Path("/etc/group")) | _ids(root / "etc/passwd", root / "etc/group")
    entry = next((line.split(":") for line in (root / "etc/passwd").read_text().splitlines()
                  if line.startswith("asterisk:")), None)
    if entry is None:
        raise RunnerError("the root has no asterisk user")
    old_uid, old_gid = int(entry[2]), int(entry[3])
    host_ids = _ids(Path("/etc/passwd"), Path("/etc/group"))
    if old_uid not in host_ids and old_gid not in host_ids:
        return
    new = next(i for i in range(64100, 65000) if i not in used)
    progress(f"  giving the root's asterisk user its own id {new} (host id {old_uid} is taken)")
    _run(["chroot", str(root), "groupmod", "-g", str(new), "asterisk"])
    _run(["chroot", str(root), "usermod", "-u", str(new), "-g", str(new), "asterisk"])
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:  # never descend into the host's /proc and /dev bind mounts
            dirnames[:] = [d for d in dirnames if d not in ("proc", "dev", "sys")]
        for name in [*dirnames, *filenames, "."]:
            path = Path(dirpath, name)
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            if st.st_uid == old_uid or st.st_gid == old_gid:
                os.chown(path, new if st.st_uid == old_uid else st.st_uid,
                         new if st.st_gid == old_gid else st.st_gid, follow_symlinks=False)


@dataclass
class AsteriskInstance:
    """One Asterisk process: its generated config, its sounds, its instance directory."""

    instance_dir: str          # as Asterisk sees it (inside the root in chroot mode)
    etc_source: Path           # generated config on the host
    ami_port: int
    ami_user: str
    ami_secret: str
    sounds_source: Path | None = None
    models_source: Path | None = None  # speech models, linked in for classic-AGI scripts
    ami_host: str = "127.0.0.1"
    root: Path | None = None   # None: host mode

    @classmethod
    def create(cls, *, root: Path | None = None, **kwargs) -> AsteriskInstance:
        if root is None and not use_host_asterisk():
            root = default_root()
        return cls(root=root, **kwargs)

    # ── paths ────────────────────────────────────────────────────────────────
    def host_path(self, inside: str) -> Path:
        """Where a path Asterisk sees lives on the host."""
        return self.root / inside.lstrip("/") if self.root else Path(inside)

    @property
    def conf(self) -> str:
        return f"{self.instance_dir}/etc/asterisk.conf"

    @property
    def pid_file(self) -> Path:
        return self.host_path(f"{self.instance_dir}/run/asterisk.pid")

    @property
    def log_dir(self) -> Path:
        return self.host_path(f"{self.instance_dir}/log")

    def _cmd(self, *args: str) -> list[str]:
        base = ["/usr/sbin/asterisk", "-C", self.conf, *args]
        return ["chroot", str(self.root), *base] if self.root else ["asterisk", "-C", self.conf, *args]

    # ── lifecycle ────────────────────────────────────────────────────────────
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def up(self, timeout: float = 90.0, progress: Callable[[str], None] = say) -> None:
        """Start Asterisk with the generated config and wait until AMI answers. Reuses a running one."""
        if self.root is not None:
            build_root(self.root, progress)
            _mount(self.root)
        if self.pid() is not None and self.ami_ready(timeout=5):
            progress(f"already running (pid {self.pid()}), AMI on {self.ami_host}:{self.ami_port}")
            self.reload_config()
            return
        self._install_files()
        where = f"chroot {self.root}" if self.root else "host"
        progress(f"starting Asterisk ({where}), instance {self.instance_dir}")
        console = self.log_dir / "console.log"
        with open(console, "ab") as out:
            subprocess.run(self._cmd("-F", "-n"), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           check=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ami_ready(timeout=2):
                progress(f"up: pid {self.pid()}, AMI on {self.ami_host}:{self.ami_port}")
                return
            if self.pid() is None and time.monotonic() > deadline - timeout + 5:
                break
            time.sleep(0.3)
        tail = _tail(self.log_dir / "messages.log") or _tail(console)
        raise RunnerError(f"Asterisk did not answer on AMI {self.ami_host}:{self.ami_port} in {timeout:.0f} s\n{tail}")

    def reload_config(self, command: str = "core reload") -> None:
        """Copy freshly generated config in and reload it (``dialplan reload`` for dialplan only)."""
        self._install_files()
        self.cli(command)

    def down(self, timeout: float = 20.0) -> None:
        pid = self.pid()
        if pid is not None:
            self.cli("core stop now", check=False)
            if not _wait_gone(pid, timeout):
                os.kill(pid, signal.SIGTERM)
                if not _wait_gone(pid, 5):
                    os.kill(pid, signal.SIGKILL)
                    _wait_gone(pid, 5)
        if self.root is not None and not _root_in_use(self.root):
            _unmount_all(self.root)

    def status(self) -> dict:
        pid = self.pid()
        return {
            "mode": "chroot" if self.root else "host",
            "root": str(self.root) if self.root else None,
            "instance_dir": self.instance_dir,
            "pid": pid,
            "ami": f"{self.ami_host}:{self.ami_port}",
            "ami_ready": pid is not None and self.ami_ready(timeout=3),
        }

    def cli(self, command: str, check: bool = True) -> str:
        proc = subprocess.run(self._cmd("-rx", command), capture_output=True, text=True, timeout=30)
        if check and proc.returncode != 0:
            raise RunnerError(f"asterisk -rx {command!r} failed: {proc.stderr or proc.stdout}")
        return proc.stdout

    def ami_ready(self, timeout: float) -> bool:
        """True when AMI accepts our login and Asterisk reports it is fully booted."""
        try:
            with socket.create_connection((self.ami_host, self.ami_port), timeout=timeout) as sock:
                sock.settimeout(timeout)
                banner = sock.recv(256)
                if not banner.startswith(b"Asterisk Call Manager"):
                    return False
                sock.sendall(
                    f"Action: Login\r\nUsername: {self.ami_user}\r\nSecret: {self.ami_secret}\r\n\r\n".encode()
                )
                data = b""
                deadline = time.monotonic() + timeout
                while b"Event: FullyBooted" not in data and time.monotonic() < deadline:
                    chunk = sock.recv(4096)
                    if not chunk:
                        return False
                    data += chunk
                    if b"Response: Error" in data:
                        raise RunnerError("AMI refused the login: the generated secret does not match")
                return b"Event: FullyBooted" in data
        except OSError:
            return False

    def _install_files(self) -> None:
        inst = self.host_path(self.instance_dir)
        for sub in ("etc", "run", "log/cdr-csv", "spool/monitor", "lib/keys", "sounds"):
            (inst / sub).mkdir(parents=True, exist_ok=True)
        _mirror(self.etc_source, inst / "etc")
        if self.sounds_source is not None and self.sounds_source.is_dir():
            _mirror(self.sounds_source, inst / "sounds")
        if (self.etc_source / "agi-bin" / "hotline-agi").exists():  # classic AGI: Python where Asterisk runs
            ensure_agi_python(self.root)
            if self.models_source is not None and self.models_source.is_dir():
                _mirror(self.models_source, inst / "lib" / "models", link=True)
            (inst / "lib" / "agi").mkdir(parents=True, exist_ok=True)
        uid, gid = self._asterisk_user()
        for path in [inst, *inst.rglob("*")]:
            os.chown(path, uid, gid, follow_symlinks=False)

    def _asterisk_user(self) -> tuple[int, int]:
        if self.root is None:
            entry = pwd.getpwnam("asterisk")
            return entry.pw_uid, entry.pw_gid
        for line in (self.root / "etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == "asterisk":
                return int(fields[2]), int(fields[3])
        raise RunnerError(f"no asterisk user in {self.root}/etc/passwd")


# ── helpers ──────────────────────────────────────────────────────────────────
def _run(cmd: list[str], **kwargs) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise RunnerError(f"{' '.join(cmd)} failed: {proc.stderr.strip() or proc.stdout.strip()}")


def _is_mount(path: Path) -> bool:
    return subprocess.run(["mountpoint", "-q", str(path)]).returncode == 0


def _mount(root: Path) -> None:
    for sub in ("proc", "dev"):
        target = root / sub
        target.mkdir(exist_ok=True)
        if not _is_mount(target):
            _run(["mount", "--bind", f"/{sub}", str(target)])


def _unmount_all(root: Path) -> None:
    for sub in ("dev", "proc"):
        target = root / sub
        if target.exists() and _is_mount(target):
            subprocess.run(["umount", "-l", str(target)], check=False)


def _root_in_use(root: Path) -> bool:
    """True while any instance inside ``root`` still runs."""
    for pid_file in (root / "srv").glob("hotline/*/run/asterisk.pid"):
        try:
            if _alive(int(pid_file.read_text().strip())):
                return True
        except (ValueError, FileNotFoundError):
            continue
    return False


def _mirror(src: Path, dst: Path, link: bool = False) -> None:
    """Make ``dst`` hold exactly the files of ``src`` (flat or nested); ``link``: hard links where possible."""
    dst.mkdir(parents=True, exist_ok=True)
    wanted = {p.relative_to(src) for p in src.rglob("*") if p.is_file()}
    for path in dst.rglob("*"):
        if path.is_file() and path.relative_to(dst) not in wanted:
            path.unlink()
    for rel in sorted(wanted):
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        if link:
            if (dst / rel).exists() and (dst / rel).stat().st_ino == (src / rel).stat().st_ino:
                continue
            (dst / rel).unlink(missing_ok=True)
            try:
                os.link(src / rel, dst / rel)
                continue
            except OSError:
                pass
        shutil.copy2(src / rel, dst / rel)


def _alive(pid: int) -> bool:
    """True for a running process (a zombie left unreaped by a daemon's vanished parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
