#!/usr/bin/env bash
# Training images/s at 64 px, batch 128: PyTorch + timm (one thread; two one-thread processes at
# once) and this checkout's native backend the same two ways, alternating, ROUNDS rounds. Compare
# the ratios of one session: absolute figures move between days on shared machines.
#   TORCH_PY=/tmp/torchvenv/bin/python bash bench/vs-pytorch.sh     (PyTorch: see the header of
#   ../shared/reference/torch_cpu_bench.py for the throwaway venv; never a project dependency)
set -euo pipefail
cd "$(dirname "$0")/.."
P=${TORCH_PY:-/tmp/torchvenv/bin/python}
R=${TORCH_BENCH:-../shared/reference/torch_cpu_bench.py}
[ -x "$P" ] || { echo "vs-pytorch: no Python with torch at $P (set TORCH_PY)" >&2; exit 2; }
[ -f "$R" ] || { echo "vs-pytorch: no $R (set TORCH_BENCH)" >&2; exit 2; }
quiet() { grep -v '^I0000\|^WARNING: All\|oneDNN\|^{' || true; }
for round in $(seq 1 "${ROUNDS:-2}"); do
  echo "=== round $round"
  echo "--- PyTorch, 1 thread"
  "$P" "$R" --size 64 --batch 128 --threads 1 --steps 6 | tail -1
  echo "--- PyTorch, two 1-thread processes at once"
  t=$(mktemp -d)
  "$P" "$R" --size 64 --batch 128 --threads 1 --steps 6 >"$t/a" &
  "$P" "$R" --size 64 --batch 128 --threads 1 --steps 6 >"$t/b"
  wait
  tail -n1 "$t/a"; tail -n1 "$t/b"; rm -rf "$t"
  echo "--- native, 1 thread"
  node bin/amida.js bench train --backends node --batch 128 --steps 6 2>&1 | quiet
  for m in mobilenetv2 mobilevit_xxs; do
    echo "--- native, two 1-thread processes at once: $m"
    node bin/amida.js bench parallel --backend node --size 64 --batch 128 --steps 6 --model "$m" 2>&1 | quiet | tail -2
  done
done
