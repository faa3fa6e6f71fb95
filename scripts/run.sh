#!/usr/bin/env bash
# Set up if needed, then run the whole service in the foreground (Ctrl-C stops everything).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/hotline run
