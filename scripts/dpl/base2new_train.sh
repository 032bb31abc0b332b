#!/usr/bin/env bash
# Base-to-new protocol, step 1: search a layout on the base classes, then train TRAINER on them
# (and test on the base classes). Usage: bash scripts/dpl/base2new_train.sh DATASET SEED
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ $# -eq 2 ]] || die "usage: bash scripts/dpl/base2new_train.sh DATASET SEED (e.g. caltech101 1)"
DATASET="$1"
SEED="$2"
SHOTS="${SHOTS:-16}"

resolve_settings base2new
DATASET_CFG="$(dataset_config "$DATASET")"
TRAINER_CFG="$(trainer_config "$TRAINER" "$CFG_NAME")"
SEARCH_DIR="$(base2new_dir search_base "$DATASET" DPLSearch "$SEARCH_NAME" "$SEED")"
TRAIN_DIR="$(base2new_dir train_base "$DATASET" "$TRAINER" "$RUN_NAME$LAYOUT_TAG" "$SEED")"
FLAGS=(--seed "$SEED" --dataset-config-file "$DATASET_CFG")
DATA_OPTS=(DATASET.NUM_SHOTS "$SHOTS" DATASET.SUBSAMPLE_CLASSES base)

search_then_train "$SEARCH_DIR" "$TRAIN_DIR" "${FLAGS[@]}" "${DATA_OPTS[@]}"
