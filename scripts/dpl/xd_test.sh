#!/usr/bin/env bash
# Cross-dataset protocol, step 2: evaluate the ImageNet-trained model on DATASET (all classes).
# Usage: bash scripts/dpl/xd_test.sh DATASET SEED   (LOAD_EPOCH overrides the epoch to load)
# Then: python parse_test_res.py --table output/xd/test
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ $# -eq 2 ]] || die "usage: bash scripts/dpl/xd_test.sh DATASET SEED (e.g. caltech101 1)"
DATASET="$1"
SEED="$2"
SHOTS="${SHOTS:-16}"

resolve_settings xd
DATASET_CFG="$(dataset_config "$DATASET")"
TRAINER_CFG="$(trainer_config "$TRAINER" "$CFG_NAME")"
SEARCH_DIR="$(xd_dir search "$XD_SOURCE" DPLSearch "$SEARCH_CFG" "$SEED")"
TRAIN_DIR="$(xd_dir train "$XD_SOURCE" "$TRAINER" "$CFG_NAME$LAYOUT_TAG" "$SEED")"
TEST_DIR="$(xd_dir test "$DATASET" "$TRAINER" "$CFG_NAME$LAYOUT_TAG" "$SEED")"
FLAGS=(--seed "$SEED" --dataset-config-file "$DATASET_CFG" --eval-only)

set_layout_args "$SEARCH_DIR"
if [[ "$TRAINER" == "ZeroshotCLIP" ]]; then
    run_train "$TEST_DIR" --trainer "$TRAINER" --config-file "$TRAINER_CFG" "${FLAGS[@]}"
else
    [[ -d "$TRAIN_DIR" ]] || die "no trained model in $TRAIN_DIR; run scripts/dpl/xd_train.sh $SEED first"
    [[ "$LAYOUT_MODE" != "searched" || -f "$SEARCH_DIR/layout.json" ]] || die "no searched layout $SEARCH_DIR/layout.json; run scripts/dpl/xd_train.sh $SEED first"
    EPOCH="$(max_epoch "$TRAINER_CFG")"
    run_train "$TEST_DIR" --trainer "$TRAINER" --config-file "$TRAINER_CFG" "${FLAGS[@]}" \
        --model-dir "$TRAIN_DIR" --load-epoch "$EPOCH" "${LAYOUT_ARGS[@]}"
fi
