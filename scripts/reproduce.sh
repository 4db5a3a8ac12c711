#!/usr/bin/env bash
# The main job on its default (small) configuration, headless: the `quick` experiment through
# the notebooks (data -> plain -> frozen warp fine-tune + controls -> Grad-CAM -> difficulty
# sweep -> overview), executed notebooks and HTML reports in reports/, the results table printed
# and written to reports/results.json. AMIDA_PRESET=full runs the seed's sizes instead.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${AMIDA_PRESET:-quick}
t0=$(date +%s)
run() { local n="${@: -1}"; env "${@:1:$#-1}" .venv/bin/python scripts/execute_notebooks.py --out reports "$n"; }
run AMIDA_NB_OUT=data/01_data notebooks/01_data.ipynb
run AMIDA_NB_PRESET="$preset" notebooks/02_train_plain.ipynb
run AMIDA_NB_PRESET="$preset" notebooks/03_warp_finetune.ipynb
run AMIDA_NB_PRESET="$preset" notebooks/04_gradcam.ipynb
if [ "$preset" = quick ]; then
  # The quick budget's sweep: two difficulties, one data size, both tasks and models.
  run AMIDA_NB_TRAIN=1500 AMIDA_NB_EPOCHS=3 notebooks/05_difficulty.ipynb
else
  run notebooks/05_difficulty.ipynb
fi
run AMIDA_NB_PRESET="$preset" notebooks/00_overview.ipynb
node bin/amida.js results --name "$preset"
echo "reproduce: preset '$preset' done in $(( $(date +%s) - t0 )) s; reports in reports/ (open reports/00_overview.html)"
