#!/usr/bin/env bash
# Base-to-new protocol, step 2: evaluate the model trained on the base classes on the new classes.
# Usage: bash scripts/dpl/base2new_test.sh DATASET SEED   (LOAD_EPOCH overrides the epoch to load)
# Then: python parse_test_res.py --base2new output/base2new
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
protocol base2new_test "$@"
