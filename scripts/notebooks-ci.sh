#!/usr/bin/env bash
# Executes every notebook headlessly on a tiny configuration (environment overrides of each
# notebook's config cell; each notebook rejects variables it does not know, so every run gets
# its own). Output: .ci-out/notebooks/*.ipynb and *.html. A failing cell fails this script
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
nb AMIDA_NB_COUNT=60 AMIDA_NB_OUT=$out/data/01 notebooks/01_data.ipynb
nb "${exp[@]}" notebooks/02_train_plain.ipynb
nb "${exp[@]}" notebooks/03_warp_finetune.ipynb
nb "${exp[@]}" notebooks/04_gradcam.ipynb
nb AMIDA_NB_DIFFICULTIES=easy AMIDA_NB_TRAIN=48 AMIDA_NB_TASKS=plain,warp AMIDA_NB_MODELS=mobilenetv2_035,mobilevit_xxs AMIDA_NB_EPOCHS=1 AMIDA_NB_VAL=16 AMIDA_NB_TEST=24 AMIDA_NB_SEEDS=0,1 AMIDA_NB_BATCH=16 AMIDA_NB_RUNS=$out/runs AMIDA_NB_DATA=$out/data notebooks/05_difficulty.ipynb
nb "${exp[@]}" AMIDA_REPORTS=$out/reports notebooks/00_overview.ipynb
arch=(AMIDA_NB_MODELS=vit_seed001,nest_tiny,mmlit_xxs AMIDA_NB_SIZE=32 AMIDA_NB_TRAIN=48 AMIDA_NB_VAL=16 AMIDA_NB_TEST=24 AMIDA_NB_EPOCHS=1 AMIDA_NB_SEEDS=0 AMIDA_NB_RUNS=$out/runs AMIDA_NB_DATA=$out/data)
nb "${arch[@]}" AMIDA_NB_MAE_TRAIN=24 AMIDA_NB_MAE_EPOCHS=1 notebooks/06_architectures.ipynb
nb "${arch[@]}" AMIDA_NB_STRENGTHS=0,0.2 AMIDA_NB_LIMIT=16 notebooks/07_noise.ipynb
# Again, in the same places (what re-running `make reproduce` does): data regenerated, runs reused.
nb AMIDA_NB_COUNT=60 AMIDA_NB_OUT=$out/data/01 notebooks/01_data.ipynb
nb "${exp[@]}" notebooks/02_train_plain.ipynb
[ -s "$out/reports/results.json" ] || { echo "00_overview wrote no $out/reports/results.json"; failed=$((failed + 1)); }
echo "notebooks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
