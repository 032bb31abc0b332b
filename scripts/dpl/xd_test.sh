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
SEARCH_DIR="$(xd_dir search "$XD_SOURCE" DPLSearch "$SEARCH_NAME" "$SEED")"
TRAIN_DIR="$(xd_dir train "$XD_SOURCE" "$TRAINER" "$RUN_NAME$LAYOUT_TAG" "$SEED")"
TEST_DIR="$(xd_dir test "$DATASET" "$TRAINER" "$RUN_NAME$LAYOUT_TAG" "$SEED")"
FLAGS=(--seed "$SEED" --dataset-config-file "$DATASET_CFG")

test_trained "$SEARCH_DIR" "$TRAIN_DIR" "$TEST_DIR" "scripts/dpl/xd_train.sh $SEED" "${FLAGS[@]}"
