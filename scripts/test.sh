#!/usr/bin/env bash
# Set up if needed, then run every test: unit, component, and end-to-end against a real Asterisk.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p test-artifacts
exec .venv/bin/python -m pytest -q -p no:cacheprovider --junitxml=test-artifacts/junit.xml "$@"
