#!/usr/bin/env bash
# Cross-dataset protocol, step 1: search and train on ImageNet (16 shots, all classes).
# Usage: bash scripts/dpl/xd_train.sh SEED     (XD_SOURCE=<dataset> to train on another source)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ $# -eq 1 ]] || die "usage: bash scripts/dpl/xd_train.sh SEED"
SEED="$1"
SHOTS="${SHOTS:-16}"

resolve_settings xd
DATASET_CFG="$(dataset_config "$XD_SOURCE")"
TRAINER_CFG="$(trainer_config "$TRAINER" "$CFG_NAME")"
SEARCH_DIR="$(xd_dir search "$XD_SOURCE" DPLSearch "$SEARCH_NAME" "$SEED")"
TRAIN_DIR="$(xd_dir train "$XD_SOURCE" "$TRAINER" "$RUN_NAME$LAYOUT_TAG" "$SEED")"
FLAGS=(--seed "$SEED" --dataset-config-file "$DATASET_CFG")
DATA_OPTS=(DATASET.NUM_SHOTS "$SHOTS")

search_then_train "$SEARCH_DIR" "$TRAIN_DIR" "${FLAGS[@]}" "${DATA_OPTS[@]}"
