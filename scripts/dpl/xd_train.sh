#!/usr/bin/env bash
# Cross-dataset protocol, step 1: search and train on ImageNet (16 shots, all classes).
# Usage: bash scripts/dpl/xd_train.sh SEED     (XD_SOURCE=<dataset> to train on another source)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
protocol xd_train "$@"
