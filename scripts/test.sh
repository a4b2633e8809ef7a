#!/usr/bin/env bash
# The README's test command: a virtual environment with the pinned dependencies, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt -r requirements-torch.txt
# MicroPython's WebAssembly port (npm), which runs the generated engine's plain path under node.
if command -v npm >/dev/null; then
  npm install --silent --no-audit --no-fund --prefix tests/wasm >/dev/null
fi
# Two processes: the end-to-end tests are single-threaded runs of main.py, so the cores halve the time.
.venv/bin/python -m pytest -q -n 2 --dist loadgroup --durations=40 "$@"
