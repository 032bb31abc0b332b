#!/usr/bin/env bash
# The GPU check (one script, about 4 minutes on one GPU): the tests marked `cuda`, the full-size ViT-B/16 search
# and evaluation benchmarks on CUDA, where a fused search step spends its time, and a wall-clock estimate of the
# paper's protocol; everything goes into REPORT_DIR/report.md (raw logs and JSON beside it). Paste the report
# into benchmarks/README.md.
#
#   bash benchmarks/gpu_check.sh [REPORT_DIR]        # default: benchmarks/gpu_report
#   FULL_SUITE=1 bash benchmarks/gpu_check.sh        # also the whole test suite, with CUDA visible
#
# Needs the project importable (pip install -e . or PYTHONPATH=<repo>) and a CUDA build of torch. Each step has a
# time limit and a failed step does not stop the others; the exit status is 1 when any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-benchmarks/gpu_report}"
mkdir -p "$DIR"
PYTHON="${PYTHON:-$(command -v python > /dev/null && echo python || echo python3)}"
REPORT="$DIR/report.md"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export PYTHONUNBUFFERED=1
FAILED=0

step() {  # step NAME LIMIT_S LOG COMMAND...: run, keep the log, record the status
    local name="$1" limit="$2" log="$3"
    shift 3
    local start=$SECONDS
    timeout "$limit" "$@" > "$log" 2>&1
    local status=$?
    echo "step $name: exit $status in $((SECONDS - start)) s" | tee -a "$TMP/steps"
    if (( status != 0 )); then FAILED=1; fi
    return 0
}

section() {  # section TITLE LOG [LINES]: a report section with the end of a log
    echo
    echo "## $1"
    echo '```text'
    grep -v "pkg_resources" "$2" | tail -n "${3:-80}"
    echo '```'
}

{
    echo "# GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo '```text'
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | head -3
    "$PYTHON" -c "import torch; print('torch', torch.__version__, '| CUDA', torch.version.cuda, '| cuDNN',
torch.backends.cudnn.version(), '|', torch.cuda.get_device_name() if torch.cuda.is_available() else 'NO CUDA')"
    echo "project commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
    echo '```'
} > "$REPORT"

# 1. the tests marked cuda
step pytest-cuda 180 "$DIR/pytest.log" "$PYTHON" -m pytest -q -m cuda -rfEs --durations=5 tests
# 2. the search step at full ViT-B/16 size: fused (scores kept / recomputed) vs naive vs fixed layout
step bench_search 210 "$DIR/search.log" "$PYTHON" benchmarks/bench_search.py --device cuda --batch 4 32 \
    --classes 100 1000 --json "$DIR/search.json"
# 3. evaluation: text features once per evaluation vs per test batch
step bench_eval 60 "$DIR/eval.log" "$PYTHON" benchmarks/bench_eval.py --device cuda --classes 100 1000 \
    --batch-size 100 --batches 5 --json "$DIR/eval.json"
# 4. the paper's protocol on this GPU, from the measured step times
step estimate 15 "$TMP/estimate" "$PYTHON" benchmarks/protocol_estimate.py --search "$DIR/search.json" \
    --eval "$DIR/eval.json"
# 5. where a fused search step spends its time (for the next optimisation)
step profile 60 "$DIR/profile.log" bash -c "'$PYTHON' benchmarks/profile_search.py --device cuda --batch 32 \
    --classes 1000 --rows 20 && '$PYTHON' benchmarks/profile_search.py --device cuda --batch 4 --classes 100 --rows 20"
# 6. optionally, the whole suite with CUDA visible (train.py then runs on the GPU in the end-to-end tests)
if [[ "${FULL_SUITE:-0}" == 1 ]]; then
    step pytest-all 300 "$DIR/suite.log" "$PYTHON" -m pytest -q -rfE tests
fi

{
    section "Steps" "$TMP/steps"
    section "1. pytest -m cuda" "$DIR/pytest.log" 40
    section "2. bench_search.py --device cuda (ViT-B/16, N = 6)" "$DIR/search.log"
    section "3. bench_eval.py --device cuda" "$DIR/eval.log" 20
    echo
    echo "## 4. Protocol estimate"
    echo
    cat "$TMP/estimate"
    section "5. profile_search.py (self device time per operator)" "$DIR/profile.log" 70
    if [[ -f "$DIR/suite.log" ]]; then section "6. the whole suite with CUDA visible" "$DIR/suite.log" 40; fi
} >> "$REPORT"
echo "Report: $REPORT"
exit $FAILED
