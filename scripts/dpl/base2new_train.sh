#!/usr/bin/env bash
# Base-to-new protocol, step 1: search a layout on the base classes, then train TRAINER on them
# (and test on the base classes). Usage: bash scripts/dpl/base2new_train.sh DATASET SEED
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
protocol base2new_train "$@"
