#!/usr/bin/env bash
# Base-to-new protocol, step 2: evaluate the model trained on the base classes on the new classes.
# Usage: bash scripts/dpl/base2new_test.sh DATASET SEED   (LOAD_EPOCH overrides the epoch to load)
# Then: python parse_test_res.py --base2new output/base2new
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ $# -eq 2 ]] || die "usage: bash scripts/dpl/base2new_test.sh DATASET SEED (e.g. caltech101 1)"
DATASET="$1"
SEED="$2"
SHOTS="${SHOTS:-16}"

resolve_settings base2new
DATASET_CFG="$(dataset_config "$DATASET")"
TRAINER_CFG="$(trainer_config "$TRAINER" "$CFG_NAME")"
SEARCH_DIR="$(base2new_dir search_base "$DATASET" DPLSearch "$SEARCH_NAME" "$SEED")"
TRAIN_DIR="$(base2new_dir train_base "$DATASET" "$TRAINER" "$RUN_NAME$LAYOUT_TAG" "$SEED")"
TEST_DIR="$(base2new_dir test_new "$DATASET" "$TRAINER" "$RUN_NAME$LAYOUT_TAG" "$SEED")"
FLAGS=(--seed "$SEED" --dataset-config-file "$DATASET_CFG")
DATA_OPTS=(DATASET.NUM_SHOTS "$SHOTS" DATASET.SUBSAMPLE_CLASSES new)

test_trained "$SEARCH_DIR" "$TRAIN_DIR" "$TEST_DIR" "scripts/dpl/base2new_train.sh $DATASET $SEED" \
    "${FLAGS[@]}" "${DATA_OPTS[@]}"
