"""The generator: golden output, determinism, staleness, no partial writes, the secrets it uses."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import pytest
import yaml

from hotline import access, channelvars, confgen
from hotline.numberplan import LineClass, load_plan
from hotline.secrets import SecretStore
from hotline.site import SiteConfig
from tests.unit.golden import GOLDEN_DIR, PLAN, FixedSecrets, render_golden


def test_rendering_matches_the_reviewed_golden_files():
    rendered = render_golden()
    assert sorted(rendered.files) == sorted(p.name for p in GOLDEN_DIR.glob("*.conf"))
    stale = rendered.stale(GOLDEN_DIR)
    assert not stale, f"golden files differ: {stale}; run `python -m tests.unit.golden` and review the diff"


def test_rendering_is_deterministic():
    assert render_golden().files == render_golden().files


def test_every_inbound_number_has_an_extension_and_every_transfer_target_a_trunk():
    plan = load_plan(PLAN)
    ext = render_golden().files["extensions.conf"]
    inbound = ext.split("\n[hotline-inbound]\n")[1].split("\n[")[0]
    transfer = ext.split(f"\n[{channelvars.CTX_TRANSFER}]\n")[1].split("\n[")[0]
    for line in plan.lines:
        if line.line_class in (LineClass.ONE_KEY_TRANSFER, LineClass.EMERGENCY):
            assert f"exten => {line.number},1," not in inbound
        else:
            assert (f"exten => {line.number},1,Gosub({channelvars.CTX_SCREEN},s,1)\n"
                    f" same => n,Gosub(hotline-tag") in inbound
        if hasattr(line, "trunk"):
            assert f"exten => {line.number},1,Set(__{channelvars.TRANSFER_TARGET}={line.number})" in transfer
            assert f"Dial(PJSIP/{line.number}@trunk-{line.trunk}," in ext
            assert f"[trunk-{line.trunk}]" in render_golden().files["pjsip.conf"]
    assert "exten => _X!,1," in inbound  # unknown numbers still reach 12345


def test_channel_variable_names_come_from_the_constants_module():
    ext = render_golden().files["extensions.conf"]
    used = set(re.findall(r"\b(HOTLINE_[A-Z_]+)\b", ext)) - {"HOTLINE_RECORDINGS", "HOTLINE_TZ"}
    assert used <= set(channelvars.ALL.values()), used - set(channelvars.ALL.values())


def test_services_bind_to_loopback_and_ami_permits_only_loopback_by_default():
    files = render_golden().files
    assert "bindaddr=127.0.0.1" in files["manager.conf"]
    assert "permit=127.0.0.1/255.255.255.255" in files["manager.conf"]
    assert "deny=0.0.0.0/0.0.0.0" in files["manager.conf"]
    assert files["pjsip.conf"].count("bind=127.0.0.1:5060") == 2
    assert "bindaddr = 127.0.0.1" in files["http.conf"]


def test_the_desks_ami_user_has_no_system_config_or_command_class_and_the_operator_is_local():
    site = SiteConfig(bind="10.0.0.5", ami_permit=["10.0.0.9/255.255.255.255"])
    plan = load_plan(PLAN)
    text = confgen.render(plan, site, FixedSecrets(confgen.secret_names(site, plan))).files["manager.conf"]  # type: ignore[arg-type]
    sections = {m.group(1): m.group(2) for m in re.finditer(r"^\[([^\]]+)\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S)}
    desk, operator = sections[access.AMI_DESK_USER], sections[access.AMI_OPERATOR_USER]
    write = set(re.search(r"^write=(.*)$", desk, re.M).group(1).split(","))
    assert write == {"call", "agent", "user", "reporting", "originate"}
    assert re.findall(r"^permit=(.*)$", desk, re.M) == ["10.0.0.9/255.255.255.255"]
    assert re.findall(r"^permit=(.*)$", operator, re.M) == ["127.0.0.1/255.255.255.255", "10.0.0.5/255.255.255.255"]
    assert "secret=golden-ami\n" in desk and "secret=golden-ami-operator\n" in operator


def test_no_secret_is_a_default_every_credential_comes_from_the_store(tmp_path):
    plan = load_plan(PLAN)
    site = SiteConfig()
    store = SecretStore(tmp_path / "secrets")
    store.ensure(confgen.secret_names(site, plan))
    files = confgen.render(plan, site, store).files
    secrets_in_config = re.findall(r"^(?:password|secret)=(.*)$", files["pjsip.conf"] + files["manager.conf"], re.M)
    # Every name but Redis's ACL users (their file is the launcher's, hotline.access.redis_acl).
    assert len(secrets_in_config) == len(set(confgen.secret_names(site, plan)) - set(access.REDIS_SECRETS))
    assert len(set(secrets_in_config)) == len(secrets_in_config), "each credential is distinct"
    for value in secrets_in_config:
        assert len(value) >= 32
    mode = stat.S_IMODE(os.stat(store.path("ami")).st_mode)
    assert mode == 0o600


def test_secrets_are_generated_once_and_kept(tmp_path):
    store = SecretStore(tmp_path / "s")
    assert store.ensure(["ami", "redis"]) == ["ami", "redis"]
    first = store.get("ami")
    assert store.ensure(["ami", "redis"]) == []
    assert store.get("ami") == first
    with pytest.raises(KeyError, match="hotline install"):
        store.get("sip-agent-9999")


def hotline(tmp_path, *args, plan=PLAN, site=None):
    env = {**os.environ, "HOTLINE_HOME": str(tmp_path / "home"), "HOTLINE_PLAN": str(plan),
           "HOTLINE_SITE": str(site or tmp_path / "no-site.yaml")}
    return subprocess.run([sys.executable, "-m", "launcher.cli", *args], env=env, capture_output=True, text=True)


def test_cli_generate_then_check_then_stale(tmp_path):
    assert hotline(tmp_path, "conf", "generate").returncode == 0
    etc = tmp_path / "home" / "asterisk" / "etc"
    check = hotline(tmp_path, "conf", "check")
    assert check.returncode == 0, check.stderr
    (etc / "queues.conf").write_text((etc / "queues.conf").read_text() + "\n; hand edit\n")
    check = hotline(tmp_path, "conf", "check")
    assert check.returncode == 1 and "queues.conf" in check.stderr


def test_cli_bad_plan_exits_nonzero_naming_the_field_and_writes_nothing(tmp_path):
    bad = tmp_path / "numbers.yaml"
    bad.write_text(PLAN.read_text(encoding="utf-8").replace("class: dual_expert", "class: dual_exprt"),
                   encoding="utf-8")
    result = hotline(tmp_path, "conf", "generate", plan=bad)
    assert result.returncode == 2
    assert re.search(rf"error: {re.escape(str(bad))}:\d+: lines\[\d+\]\.class: unknown class 'dual_exprt'",
                     result.stderr)
    assert not (tmp_path / "home" / "asterisk").exists()
    assert not (tmp_path / "home" / "secrets").exists()


def test_cli_bad_plan_leaves_an_existing_config_untouched(tmp_path):
    assert hotline(tmp_path, "conf", "generate").returncode == 0
    etc = tmp_path / "home" / "asterisk" / "etc"
    before = {p.name: p.read_text() for p in etc.iterdir()}
    bad = tmp_path / "numbers.yaml"
    bad.write_text(PLAN.read_text(encoding="utf-8").replace('main: "12345"', 'main: "12346"'), encoding="utf-8")
    assert hotline(tmp_path, "conf", "generate", plan=bad).returncode == 2
    assert {p.name: p.read_text() for p in etc.iterdir()} == before


def test_site_pins_the_date_for_transition_windows(tmp_path):
    site_file = tmp_path / "site.yaml"
    site_file.write_text(yaml.safe_dump({"today": "2021-10-01"}))
    assert hotline(tmp_path, "conf", "generate", site=site_file).returncode == 0
    ext = (tmp_path / "home" / "asterisk" / "etc" / "extensions.conf").read_text()
    assert f"{channelvars.TODAY_OVERRIDE}=20211001" in ext


def test_bad_site_file_names_its_line(tmp_path):
    site_file = tmp_path / "site.yaml"
    site_file.write_text("name: main\nami_port: 99999\n")
    result = hotline(tmp_path, "conf", "generate", site=site_file)
    assert result.returncode == 2
    assert f"{site_file}:2: ami_port: Input should be less than or equal to 65535" in result.stderr


def test_every_trunk_demands_a_login_and_admits_only_its_networks():
    pjsip = render_golden().files["pjsip.conf"]
    plan = load_plan(PLAN)
    for name in ["carrier"] + [f"trunk-{t}" for t in plan.trunks]:
        section = pjsip.split(f"\n[{name}](telephony-endpoint)\n")[1].split("\n\n")[0]
        assert f"auth={name}-auth" in section.splitlines(), name
        assert "deny=0.0.0.0/0.0.0.0" in section and "permit=127.0.0.1/255.255.255.255" in section, name
    assert "[anonymous]" not in pjsip
    assert "endpoint_identifier_order=username,ip" in pjsip


def test_trunk_networks_and_identification_come_from_the_site(tmp_path):
    plan = load_plan(PLAN)
    site = SiteConfig(trunk_overrides={"emergency": {"host": "10.1.2.3", "match": "10.1.2.0/24"},
                                       "subcenter-12360": {"host": "10.9.9.9", "permit": ["10.9.0.0/16"]}},
                      carrier={"permit": ["192.0.2.0/24"]})
    store = SecretStore(tmp_path / "secrets")
    store.ensure(confgen.secret_names(site, plan))
    pjsip = confgen.render(plan, site, store).files["pjsip.conf"]
    emergency = pjsip.split("\n[trunk-emergency](telephony-endpoint)\n")[1].split("\n\n")[0]
    assert "permit=10.1.2.3/255.255.255.255" in emergency
    assert "[trunk-emergency-identify]\ntype=identify\nendpoint=trunk-emergency\nmatch=10.1.2.0/24" in pjsip
    assert "permit=10.9.0.0/16" in pjsip.split("\n[trunk-subcenter-12360](telephony-endpoint)\n")[1].split("\n\n")[0]
    assert "permit=192.0.2.0/24" in pjsip.split("\n[carrier](telephony-endpoint)\n")[1].split("\n\n")[0]
    named = SiteConfig(trunk_overrides={"emergency": {"host": "gw.example.org"}})
    with pytest.raises(ValueError, match="trunk_overrides.emergency.permit"):
        confgen.render(plan, named, store)
    with pytest.raises(ValueError):
        SiteConfig(carrier={"username": "anonymous"})


def test_every_inbound_extension_is_screened_first():
    ext = render_golden().files["extensions.conf"]
    inbound = ext.split("\n[hotline-inbound]\n")[1].split("\n[")[0]
    for line in inbound.splitlines():
        if line.startswith("exten => ") and line.split(",")[0] not in ("exten => s", "exten => i"):
            assert line.endswith(f",1,Gosub({channelvars.CTX_SCREEN},s,1)"), line
    screen = ext.split(f"\n[{channelvars.CTX_SCREEN}]\n")[1].split("\n[")[0]
    assert "Set(CALLERID(num)=${FILTER(0123456789+,${CALLERID(num)})})" in screen
    assert f"{channelvars.INBOUND_LIMIT}=100" in ext
