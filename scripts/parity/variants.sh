#!/usr/bin/env bash
# One recipe detail at a time on the PyTorch side (issue 17, item 3): the reference
# (torch_train_variant.py, derived from ../shared/reference/torch_train.py) with one flag that
# switches a detail to the project's, one seed each, at the full budget, two runs at a time, one
# thread each; then a table of variant -> test accuracy beside the reference and the project on the
# same seed (from scripts/parity.sh's runs in PARITY_OUT).
#
#   scripts/parity/variants.sh MODEL [TAG=FLAGS ...]
#
# Without TAG=FLAGS, MODEL's default list below. Needs what scripts/parity.sh needs, and its data
# set exported (run parity.sh first, or at least its generate + export). Measured: two MobileNetV2
# variants at a time took 961 s on the 2-core machine (with a niced experiment beside them).
# Results are reused from PARITY_OUT/variants/<model>-<tag>-s<seed>.json; each run's log beside it.
#
# Environment: TORCH_PYTHON, PARITY_DATA, PARITY_OUT, PARITY_IMAGES, VARIANT_SEED (0), JOBS (2).
set -euo pipefail
cd "$(dirname "$0")/../.."

TORCH_PYTHON=${TORCH_PYTHON:-/tmp/torchvenv/bin/python}
DATA=${PARITY_DATA:-data/parity-large}
OUT=${PARITY_OUT:-runs/parity}
IMAGES=${PARITY_IMAGES:-100000}
SEED=${VARIANT_SEED:-0}
JOBS=${JOBS:-2}
NPY="$DATA-npy"
model=${1:?usage: scripts/parity/variants.sh MODEL [TAG=FLAGS ...]}
shift

if ! "$TORCH_PYTHON" -c "import torch, timm, numpy" >/dev/null 2>&1; then
  echo "variants: no PyTorch at TORCH_PYTHON=$TORCH_PYTHON; install one outside the project:" >&2
  echo "    python3 -m venv ~/torchref && ~/torchref/bin/pip install torch timm numpy" >&2
  exit 2
fi
[ -f "$NPY/meta.json" ] || { echo "variants: no export in $NPY; run scripts/parity.sh first" >&2; exit 2; }

if [ $# -eq 0 ]; then
  case "$model" in
    mobilenetv2_100)
      set -- "linear-init=--linear-init project" "decay=--decay kernels" \
        "conv-init=--conv-init project" "pad=--pad same" "adam-eps=--adam-eps 1e-7" \
        "all=--linear-init project --decay kernels --conv-init project --pad same --adam-eps 1e-7" ;;
    mobilevit_xxs)
      set -- "linear-init=--linear-init project" "decay=--decay kernels" \
        "conv-init=--conv-init project" "zero-init-last=--zero-init-last off" \
        "adam-eps=--adam-eps 1e-7" \
        "all=--linear-init project --decay kernels --conv-init project --zero-init-last off --adam-eps 1e-7" ;;
    *) echo "variants: no default list for '$model'; give TAG=FLAGS" >&2; exit 2 ;;
  esac
fi

mkdir -p "$OUT/variants"
one() { # tag flags
  local tag=$1 flags=$2 base="$OUT/variants/$model-$1-s$SEED"
  [ -s "$base.json" ] && return 0
  # shellcheck disable=SC2086
  local cmd=("$TORCH_PYTHON" scripts/parity/torch_train_variant.py --data "$NPY" --model "$model"
    --images "$IMAGES" --batch 128 --lr 2e-3 --wd 0.05 --seed "$SEED" --threads 1 --curve $flags)
  echo "\$ ${cmd[*]}" >"$base.log"
  local s e
  s=$(date +%s)
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "${cmd[@]}" >>"$base.log" 2>&1
  e=$(date +%s)
  echo "wall $((e - s)) s" >>"$base.log"
  tail -n 2 "$base.log" | head -n 1 >"$base.json.tmp" && mv "$base.json.tmp" "$base.json"
}

running=0
for spec in "$@"; do
  tag=${spec%%=*}
  flags=${spec#*=}
  echo "variants: $model $tag ($flags), seed $SEED ..."
  one "$tag" "$flags" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

"$TORCH_PYTHON" - "$OUT" "$model" "$SEED" "$@" <<'EOF'
import json, os, sys
out, model, seed, specs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def load(f):
    return json.load(open(f)) if os.path.exists(f) and os.path.getsize(f) else None
ref = load(f"{out}/torch/{model}-s{seed}.json")
proj = load(f"{out}/project/{model}-s{seed}/metrics.json")
pct = lambda v: "n/a" if v is None else f"{100 * v:.1f}"
curve = lambda c: " ".join(f"{round(i / 1000)}k:{100 * a:.1f}" for i, a in c) if c else ""
print(f"\n{model}, seed {seed}, {ref['images'] if ref else '?'} images: one change at a time on the PyTorch side\n")
print("| run | change from the reference | test acc % | vs reference (points) | train acc % (4,096) | curve (test acc) |")
print("|---|---|---|---|---|---|")
r = ref["test_acc"] if ref else None
if proj:
    d = "" if r is None else f"{100 * (proj['test_acc'] - r):+.1f}"
    print(f"| project (amida train) | - | {pct(proj['test_acc'])} | {d} | | val: {curve(proj['curve'])} |")
if ref:
    print(f"| reference (torch_train.py) | none | {pct(r)} | 0 | {pct(ref['train_acc'])} | {curve(ref['curve'])} |")
for spec in specs:
    tag, flags = spec.split("=", 1)
    v = load(f"{out}/variants/{model}-{tag}-s{seed}.json")
    if v is None:
        print(f"| {tag} | `{flags}` | failed: see {out}/variants/{model}-{tag}-s{seed}.log | | | |")
        continue
    d = "" if r is None else f"{100 * (v['test_acc'] - r):+.1f}"
    print(f"| {tag} | `{flags}` | {pct(v['test_acc'])} | {d} | {pct(v['train_acc'])} | {curve(v['curve'])} |")
EOF
