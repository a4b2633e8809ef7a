#!/usr/bin/env bash
# The README's test command: a virtual environment with the pinned dependencies, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt -r requirements-torch.txt
.venv/bin/python -m pytest -q "$@"
