#!/usr/bin/env bash
# Few-shot protocol for several trainers and datasets, then one table (mean ± 95% CI (seeds) per cell).
# Usage: bash scripts/dpl/compare.sh "ZeroshotCLIP CoOp DPL" "caltech101 dtd" 16
# Each trainer runs with its default config (CFG applies only when one trainer is given) and LAYOUT.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
protocol compare "$@"
