"""docker-compose.yml is a valid Compose file. No Docker Compose (nor engine) runs here, so instead of
``docker compose config`` it is checked against the Compose Specification's schema as bundled by dclint (pinned in
docker/lint/package-lock.json; scripts/setup.sh installs it), with dclint's style rules off (docker/lint/dclint.json).
"""

from __future__ import annotations

import subprocess

import yaml

from hotline.paths import PROJECT_ROOT

LINT = PROJECT_ROOT / "docker" / "lint"
COMPOSE = PROJECT_ROOT / "docker-compose.yml"


def dclint(path) -> subprocess.CompletedProcess:
    binary = LINT / "node_modules" / ".bin" / "dclint"
    assert binary.exists(), "scripts/setup.sh installs dclint (docker/lint)"
    return subprocess.run([str(binary), "-c", str(LINT / "dclint.json"), "--color=false", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_the_compose_file_is_valid_against_the_compose_specification():
    result = dclint(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout


def test_the_check_refuses_what_the_specification_does_not_allow(tmp_path):
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    compose["services"]["desk"]["startup_order"] = 1   # not a Compose key
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(compose, allow_unicode=True), encoding="utf-8")
    result = dclint(broken)
    assert result.returncode != 0 and "invalid-schema" in result.stdout, result.stdout


def test_every_service_command_is_one_the_launcher_has():
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    commands = {name: service.get("command") for name, service in compose["services"].items()}
    assert commands["desk"] == ["hotline", "desk", "serve"]
    assert commands["agi"] == ["hotline", "agi", "serve"]
