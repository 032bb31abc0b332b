#!/usr/bin/env bash
# Cross-dataset protocol, step 2: evaluate the ImageNet-trained model on DATASET (all classes).
# Usage: bash scripts/dpl/xd_test.sh DATASET SEED   (LOAD_EPOCH overrides the epoch to load)
# Then: python parse_test_res.py --table output/xd/test
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
protocol xd_test "$@"
