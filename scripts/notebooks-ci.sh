#!/usr/bin/env bash
# Executes every notebook headlessly on the tiny budget (AMIDA_NB_BUDGET=tiny, which every
# notebook honours; a variable no notebook knows is an error). Output: .ci-out/notebooks/*.ipynb and *.html. A failing cell fails this script
# and prints the cell's real error.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.ci-out
rm -rf "$out/runs" "$out/data"
mkdir -p "$out/notebooks"
passed=0; failed=0
nb() {
  local n="${@: -1}"
  if env "${@:1:$#-1}" .venv/bin/python scripts/execute_notebooks.py --out "$out/notebooks" "$n"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
exp=(AMIDA_NB_BUDGET=tiny AMIDA_NB_RUNS=$out/runs AMIDA_NB_DATA=$out/data)
nb AMIDA_NB_BUDGET=tiny AMIDA_NB_OUT=$out/data/01 notebooks/01_data.ipynb
nb "${exp[@]}" notebooks/02_train_plain.ipynb
nb "${exp[@]}" notebooks/03_warp_finetune.ipynb
nb "${exp[@]}" AMIDA_NB_REPORTS=$out/reports notebooks/04_gradcam.ipynb
nb "${exp[@]}" notebooks/05_difficulty.ipynb
nb "${exp[@]}" AMIDA_NB_REPORTS=$out/reports notebooks/00_overview.ipynb
nb "${exp[@]}" notebooks/06_architectures.ipynb
nb "${exp[@]}" notebooks/07_noise.ipynb
# Again, in the same places (what re-running `make reproduce` does): data regenerated, runs reused.
nb AMIDA_NB_BUDGET=tiny AMIDA_NB_OUT=$out/data/01 notebooks/01_data.ipynb
nb "${exp[@]}" notebooks/02_train_plain.ipynb
[ -s "$out/reports/results.json" ] || { echo "00_overview wrote no $out/reports/results.json"; failed=$((failed + 1)); }
echo "notebooks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
