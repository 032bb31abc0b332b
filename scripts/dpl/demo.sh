#!/usr/bin/env bash
# Smoke run of the whole few-shot protocol (search -> train -> test over seeds 1 2 3, then the table)
# on the generated demo dataset with tiny-random, a small randomly initialised CLIP. Runs on a CPU in a
# few minutes. Its accuracies mean nothing: it checks the code path, it is not a benchmark.
# Usage: bash scripts/dpl/demo.sh     (DATA, OUTPUT, SEEDS, TRAINER, PYTHON, OPTS as for main.sh)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-$(command -v python > /dev/null && echo python || echo python3)}"
export PYTHON
read -r -a PYTHON_CMD <<< "$PYTHON"

if ! (cd "$REPO_ROOT" && "${PYTHON_CMD[@]}" -c "import dpl, clip") > /dev/null 2>&1; then
    echo "Installing the project (pip install -e $REPO_ROOT) ..."
    "${PYTHON_CMD[@]}" -m pip install -e "$REPO_ROOT"
fi

BANNER="SMOKE RUN (tiny-random, generated data): numbers mean nothing"
echo "=== $BANNER ==="
# Short schedules so the three seeds (search + train + test) finish in minutes on two CPU cores;
# the user's OPTS come after and win.
export BACKBONE=tiny-random
export OPTS="OPTIM.MAX_EPOCH 2 DATALOADER.NUM_WORKERS 0 ${OPTS:-}"
bash "$HERE/main.sh" demo 4
echo "=== $BANNER ==="
