"""What a fresh machine builds once, built again from nothing on every run (the Asterisk root: tests/conftest.py).

The browser softphone's SIP stack is bundled by ``scripts/setup.sh`` once per lockfile; here the same build
runs in a scratch folder with an empty npm cache, so a lockfile or build script that only works from a warm
cache fails the suite instead of the next fresh machine.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest

from hotline.paths import PROJECT_ROOT

SOFTPHONE = PROJECT_ROOT / "agent_desk" / "web" / "softphone"
BUNDLE = PROJECT_ROOT / "agent_desk" / "web" / "static" / "vendor" / "jssip.min.js"


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_softphone_bundle_builds_from_an_empty_npm_cache_and_equals_the_installed_one(tmp_path):
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing: scripts/setup.sh installs it (nodejs, npm)")
    work = tmp_path / "softphone"
    work.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(SOFTPHONE / name, work / name)
    (tmp_path / "static" / "vendor").mkdir(parents=True)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "npm_config_cache": str(tmp_path / "npm"),
           "npm_config_update_notifier": "false"}
    install = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work, env=env,
                             capture_output=True, text=True, timeout=240)
    assert install.returncode == 0, install.stderr[-2000:]
    build = subprocess.run([npm, "run", "-s", "build"], cwd=work, env=env, capture_output=True, text=True,
                           timeout=120)
    assert build.returncode == 0, build.stderr[-2000:]
    fresh = tmp_path / "static" / "vendor" / "jssip.min.js"
    assert fresh.stat().st_size > 100_000, "the bundle holds JsSIP"
    assert b"JsSIP" in fresh.read_bytes()[:200_000]
    # The lockfile pins every version: the fresh build is the very file setup installed for the pages.
    assert BUNDLE.exists(), "scripts/setup.sh builds the bundle before the tests run"
    assert sha256(fresh) == sha256(BUNDLE)
    lock = json.loads((SOFTPHONE / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/jssip"]["version"] == "3.13.8"
