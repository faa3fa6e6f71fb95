#!/usr/bin/env bash
# One-time (and idempotent) set-up on a fresh Debian 12 machine: system packages, the Python
# environment, and `hotline install` (secrets generated here, Asterisk config, prompts).
# The Debian sid root that holds Asterisk is built on first start, with progress, and cached.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(debootstrap redis-server sox espeak-ng chromium fonts-wqy-microhei)
# The tests start throwaway PostgreSQL 15 clusters from the server binaries (tests/support/postgres_server.py).
[ -x /usr/lib/postgresql/15/bin/initdb ] || APT_PACKAGES+=(postgresql-15)
# npm builds the browser softphone's SIP stack (JsSIP) from pinned packages (agent_desk/web/softphone).
command -v npm >/dev/null || APT_PACKAGES+=(nodejs npm)
# Kamailio is the SIP proxy in front of several Asterisk nodes (cluster mode, tests/e2e/test_cluster.py).
APT_PACKAGES+=(kamailio kamailio-websocket-modules kamailio-tls-modules)
# SIPp plays the carrier in the cluster benchmark (bench/cluster.py): Debian's sip-tester.
APT_PACKAGES+=(sip-tester)

step() { printf '\n[setup] %s\n' "$*" >&2; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  step "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "[setup] run as root (apt-get, chroot and mounts need it)" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian starts a system-wide redis-server on install; the project runs its own on loopback with a
# generated password, so the packaged one is not needed.
if command -v systemctl >/dev/null && systemctl is-active -q redis-server 2>/dev/null; then
  systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
# Likewise the packaged Kamailio service (it would hold 5060): a cluster runs its own from the generated config.
if command -v systemctl >/dev/null && systemctl is-active -q kamailio 2>/dev/null; then
  systemctl disable --now kamailio >/dev/null 2>&1 || true
fi
# Likewise the cluster Debian creates and starts with postgresql-15: tests run their own, on loopback.
if command -v systemctl >/dev/null && systemctl is-active -q postgresql 2>/dev/null; then
  systemctl disable --now postgresql >/dev/null 2>&1 || true
fi

PY=${PYTHON:-python3}
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  step "creating the Python environment (.venv) and installing the project"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[test]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi

softphone=agent_desk/web/softphone
built=$softphone/node_modules/.built-$(sha256sum $softphone/package-lock.json | cut -c1-16)
if [ ! -f "$built" ] || [ ! -f agent_desk/web/static/vendor/jssip.min.js ]; then
  step "building the browser softphone's SIP stack (JsSIP, pinned in $softphone/package-lock.json)"
  (cd $softphone && npm ci --no-audit --no-fund --loglevel=error && npm run -s build)
  touch "$built"
fi

lint=docker/lint
checked=$lint/node_modules/.built-$(sha256sum $lint/package-lock.json | cut -c1-16)
if [ ! -f "$checked" ]; then
  step "installing the Compose file checker (dclint, pinned in $lint/package-lock.json)"
  (cd $lint && npm ci --no-audit --no-fund --loglevel=error)
  touch "$checked"
fi

step "hotline install: secrets, Asterisk configuration, prompts"
.venv/bin/hotline install
