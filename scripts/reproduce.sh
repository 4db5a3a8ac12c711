#!/usr/bin/env bash
# The main job on its default (small) configuration, headless: data set + stats + executed,
# rendered notebooks in reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
node bin/amida.js generate --preset seed --task warp --hops 1 --count 3000 --seed 0 --out data/warp-seed-3k
node bin/amida.js show data/warp-seed-3k --split test --index 1 --out reports/puzzle-test-1.png
.venv/bin/python scripts/execute_notebooks.py --out reports notebooks/01_data.ipynb
echo "reports: $(ls reports | tr '\n' ' ')"
