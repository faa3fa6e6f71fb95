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
    assert commands["desk"] == ["hotline", "desk", "serve", "--no-listener"]
    assert commands["listener"] == ["hotline", "listener"]
    assert commands["agi"] == ["hotline", "agi", "serve"]
    assert commands["asr"] == ["hotline", "asr", "worker"]
    from launcher.cli import build_parser
    for name in ("desk", "listener", "agi", "asr"):   # the launcher parses each as it stands
        build_parser().parse_args(commands[name][1:])


def test_the_processes_hotline_run_supervises_are_compose_services_restarted_when_they_die():
    """Issue 17: the media server, the desk, the listener and the ASR workers are separate processes in both
    layouts; in Compose, each a service that Compose restarts."""
    from hotline.contracts.processes import ProcessKind
    from hotline.site import SiteConfig
    from launcher.stack import stack_children

    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = {"media": "agi", "desk": "desk", "listener": "listener", "asr": "asr"}
    children = stack_children(SiteConfig(name="t"), "/recordings")
    assert {str(c.kind) for c in children} == {str(k) for k in ProcessKind}
    for child in children:
        service = compose["services"][services[str(child.kind)]]
        assert service["restart"] == "unless-stopped", child.name
        # the same command (its options may differ: hotline run passes where it reads the recordings)
        command = [word for word in child.argv[3:5] if not word.startswith("--")]
        assert command == [word for word in service["command"][1:3] if not word.startswith("--")], (
            child.argv, service["command"])
    site = yaml.safe_load((PROJECT_ROOT / "docker" / "site.compose.yaml").read_text(encoding="utf-8"))
    for name in ("desk", "listener"):   # both log into AMI: their fixed addresses are permitted
        address = compose["services"][name]["networks"]["hotline"]["ipv4_address"]
        assert f"{address}/255.255.255.255" in site["ami_permit"], name
