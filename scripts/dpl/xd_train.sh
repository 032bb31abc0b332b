#!/usr/bin/env bash
# Cross-dataset protocol, step 1: search and train on ImageNet (16 shots, all classes).
# Usage: bash scripts/dpl/xd_train.sh SEED     (XD_SOURCE=<dataset> to train on another source)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ $# -eq 1 ]] || die "usage: bash scripts/dpl/xd_train.sh SEED"
SEED="$1"
SHOTS="${SHOTS:-16}"

protocol_paths xd "$XD_SOURCE" "$SHOTS" "$SEED"
search_then_train "$SEARCH_DIR" "$TRAIN_DIR" "${TRAIN_ARGS[@]}"
