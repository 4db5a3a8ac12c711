#!/usr/bin/env bash
# Executes each notebook headlessly with a tiny configuration (environment overrides of its
# config cell) into .ci-out/; the python runner prints the failing cell's real error.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.ci-out/notebooks
mkdir -p "$out"
AMIDA_NB_COUNT=60 AMIDA_NB_OUT=.ci-out/data01 .venv/bin/python scripts/execute_notebooks.py --out "$out" notebooks/01_data.ipynb
