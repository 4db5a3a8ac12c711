#!/usr/bin/env bash
# Parity with PyTorch on identical data (issue 17, item 3), in one command:
#
#   scripts/parity.sh
#
# 1. generates the `large` plain set if it is missing (4 lanes, 8 rows, 3..10 rungs, 64 px, 20,000
#    train / 500 val / 2,000 test, data seed 7) and exports it as .npy (amida export);
# 2. trains, for each seed in PARITY_SEEDS and each model in PARITY_MODELS, the project's trainer
#    (amida train) and the PyTorch + timm reference (../shared/reference/torch_train.py) on those
#    very images with the same recipe: PARITY_IMAGES (100,000) images, batch 128, AdamW 2e-3,
#    weight decay 0.05, no warm-up, cosine to 0. Each pair (project, reference) of one model and
#    seed runs side by side, one thread each, so the wall-time ratio is measured under the same load;
# 3. prints the table (scripts/parity/summarize.ts) and writes PARITY_OUT/parity.json and the
#    curves side by side as PARITY_OUT/parity-curves.svg and docs/parity-curves.svg.
#
# Needs: this repository's node_modules and native backend (make bootstrap), and a Python that
# imports torch, timm and numpy at TORCH_PYTHON (default /tmp/torchvenv/bin/python; never a
# project dependency). One seed of both models took 1,013 s on the 2-core machine (README, "Parity
# with PyTorch"); the default 3 seeds x 2 models about three times that. Finished runs are reused:
# the project's by its run directory (same config and data), the reference's by its result file; delete PARITY_OUT to measure everything again.
#
# Environment: TORCH_PYTHON, TORCH_REF (default ../shared/reference/torch_train.py), PARITY_DATA
# (data/parity-large), PARITY_OUT (runs/parity), PARITY_SEEDS (0,1,2), PARITY_MODELS
# (mobilenetv2_100,mobilevit_xxs), PARITY_IMAGES (100000).
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_PYTHON=${TORCH_PYTHON:-/tmp/torchvenv/bin/python}
TORCH_REF=${TORCH_REF:-../shared/reference/torch_train.py}
DATA=${PARITY_DATA:-data/parity-large}
OUT=${PARITY_OUT:-runs/parity}
SEEDS=${PARITY_SEEDS:-0,1,2}
MODELS=${PARITY_MODELS:-mobilenetv2_100,mobilevit_xxs}
IMAGES=${PARITY_IMAGES:-100000}
BATCH=128
LR=2e-3
WD=0.05

if ! "$TORCH_PYTHON" -c "import torch, timm, numpy" >/dev/null 2>&1; then
  echo "parity: no PyTorch at TORCH_PYTHON=$TORCH_PYTHON (it must import torch, timm and numpy)." >&2
  echo "Install one outside the project (the line from torch_train.py's header):" >&2
  echo "    python3 -m venv ~/torchref && ~/torchref/bin/pip install torch timm numpy" >&2
  echo "then: TORCH_PYTHON=~/torchref/bin/python scripts/parity.sh" >&2
  exit 2
fi
if [ ! -f "$TORCH_REF" ]; then
  echo "parity: the PyTorch reference '$TORCH_REF' does not exist; set TORCH_REF to torch_train.py" >&2
  exit 2
fi

t0=$(date +%s)
if [ ! -f "$DATA/dataset.json" ]; then
  node bin/amida.js generate --task plain --lanes 4 --rows 8 --rungs 3..10 --size 64 \
    --count 20000 --val 500 --test 2000 --seed 7 --out "$DATA"
fi
NPY="$DATA-npy"
# Exported again only when the data set changed (export verifies it against its manifest).
if [ ! -f "$NPY/meta.json" ] || [ "$DATA/dataset.json" -nt "$NPY/meta.json" ]; then
  node bin/amida.js export "$DATA" --format npy --out "$NPY"
fi
mkdir -p "$OUT/project" "$OUT/torch" "$OUT/wall" "$OUT/logs"

# Wall seconds of a command, into $OUT/wall/$1.s; its output into $OUT/logs/$1.log.
timed() {
  local tag=$1
  shift
  local s e
  s=$(date +%s.%N)
  "$@" >"$OUT/logs/$tag.log" 2>&1
  e=$(date +%s.%N)
  echo "$s $e" | awk '{printf "%.1f\n", $2 - $1}' >"$OUT/wall/$tag.s"
}

project() { # model seed
  local tag="project-$1-s$2"
  if [ -f "$OUT/project/$1-s$2/metrics.json" ] && [ -f "$OUT/wall/$tag.s" ]; then return; fi
  timed "$tag" node bin/amida.js train --model "$1" --data "$DATA" --name "$1-s$2" \
    --runs "$OUT/project" --images "$IMAGES" --batch-size "$BATCH" --lr "$LR" \
    --weight-decay "$WD" --warmup-epochs 0 --warmup-images 0 --label-smoothing 0 \
    --seed "$2" --model-seed "$2" --val-limit 0
}

reference() { # model seed
  local tag="torch-$1-s$2"
  if [ -s "$OUT/torch/$1-s$2.json" ]; then return; fi
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 timed "$tag" "$TORCH_PYTHON" "$TORCH_REF" --data "$NPY" \
    --model "$1" --images "$IMAGES" --batch "$BATCH" --lr "$LR" --wd "$WD" --seed "$2" \
    --threads 1 --curve
  tail -n 1 "$OUT/logs/$tag.log" >"$OUT/torch/$1-s$2.json.tmp"
  mv "$OUT/torch/$1-s$2.json.tmp" "$OUT/torch/$1-s$2.json"
}

for seed in ${SEEDS//,/ }; do
  for model in ${MODELS//,/ }; do
    echo "parity: $model seed $seed (project and reference side by side) ..."
    project "$model" "$seed" &
    p=$!
    reference "$model" "$seed" &
    r=$!
    fail=0
    wait "$p" || { echo "parity: the project's run failed: $OUT/logs/project-$model-s$seed.log" >&2; fail=1; }
    wait "$r" || { echo "parity: the reference failed: $OUT/logs/torch-$model-s$seed.log" >&2; fail=1; }
    [ "$fail" = 0 ] || exit 1
  done
done

node --import tsx scripts/parity/summarize.ts --out "$OUT" --seeds "$SEEDS" --models "$MODELS" \
  --images "$IMAGES" --svg docs/parity-curves.svg
echo "parity: done in $(($(date +%s) - t0)) s"
