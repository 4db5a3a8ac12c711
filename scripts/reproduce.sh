#!/usr/bin/env bash
# The main job on its default configuration, headless: the `quick` budget through the notebooks
# (data -> stage 1 -> warp fine-tunes + controls -> Grad-CAM -> overview), executed notebooks and
# HTML reports in reports/, the results table printed and written to reports/results.json.
# AMIDA_BUDGET=standard runs the 3-seed, every-arm budget (~3 h on 2 cores; resumable) and the difficulty
# sweep's grid; AMIDA_BUDGET=long the warp at 1,000,000 images a run (~4.5 h on 2 cores; resumable;
# it copies standard's finished stage-1 runs).
# At quick, the sweep (05) runs on its tiny grid: a check that it works, not a result (its quick
# grid adds ~10 min).
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${AMIDA_BUDGET:-quick}
case "$budget" in
  quick) sweep=tiny ;;
  *) sweep=quick ;;
esac
t0=$(date +%s)
run() { local n="${@: -1}"; env "${@:1:$#-1}" .venv/bin/python scripts/execute_notebooks.py --out reports "$n"; }
run AMIDA_NB_OUT=data/01_data notebooks/01_data.ipynb
run AMIDA_NB_BUDGET="$budget" notebooks/02_train_plain.ipynb
run AMIDA_NB_BUDGET="$budget" notebooks/03_warp_finetune.ipynb
run AMIDA_NB_BUDGET="$budget" notebooks/04_gradcam.ipynb
run AMIDA_NB_BUDGET="$sweep" notebooks/05_difficulty.ipynb
run AMIDA_NB_BUDGET="$budget" notebooks/00_overview.ipynb
node bin/amida.js results --name "$budget"
echo "reproduce: budget '$budget' done in $(( $(date +%s) - t0 )) s; reports in reports/ (open reports/00_overview.html)"
