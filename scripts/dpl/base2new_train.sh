#!/usr/bin/env bash
# Base-to-new protocol, step 1: search a layout on the base classes, then train TRAINER on them
# (and test on the base classes). Usage: bash scripts/dpl/base2new_train.sh DATASET SEED
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ $# -eq 2 ]] || die "usage: bash scripts/dpl/base2new_train.sh DATASET SEED (e.g. caltech101 1)"
DATASET="$1"
SEED="$2"
SHOTS="${SHOTS:-16}"

protocol_paths base2new "$DATASET" "$SHOTS" "$SEED"
search_then_train "$SEARCH_DIR" "$TRAIN_DIR" "${TRAIN_ARGS[@]}"
