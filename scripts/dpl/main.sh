#!/usr/bin/env bash
# Few-shot protocol: for each seed, search a prompt layout (DPLSearch), train TRAINER with it, test;
# then the mean and 95% CI over seeds. Usage: bash scripts/dpl/main.sh DATASET SHOTS
#   TRAINER=MaPLe bash scripts/dpl/main.sh caltech101 16      (DPL + MaPLe)
#   LAYOUT=uniform:2:9 TRAINER=IVLP bash scripts/dpl/main.sh caltech101 16   (hand layout, no search)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ $# -eq 2 ]] || die "usage: bash scripts/dpl/main.sh DATASET SHOTS (e.g. caltech101 16)"
DATASET="$1"
SHOTS="$2"
[[ "$SHOTS" =~ ^[0-9]+$ ]] || die "SHOTS must be a number of shots per class, got '$SHOTS'"

resolve_settings fewshot
[[ "$LAYOUT_MODE" != "searched" ]] || search_config > /dev/null

for SEED in $SEEDS; do
    protocol_paths fewshot "$DATASET" "$SHOTS" "$SEED"
    search_then_train "$SEARCH_DIR" "$TRAIN_DIR" "${TRAIN_ARGS[@]}"
done

echo
parse_res "$(fewshot_exp_dir "$DATASET" "$SHOTS")" --ci95
if [[ "$LAYOUT_MODE" == "searched" ]]; then
    parse_res --layouts "$(fewshot_search_dir "$DATASET" "$SHOTS")"
fi
