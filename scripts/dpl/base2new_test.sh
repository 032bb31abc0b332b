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

protocol_paths base2new "$DATASET" "$SHOTS" "$SEED"
test_trained "$SEARCH_DIR" "$TRAIN_DIR" "$TEST_DIR" "scripts/dpl/base2new_train.sh $DATASET $SEED" "${TEST_ARGS[@]}"
