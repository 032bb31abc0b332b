#!/usr/bin/env bash
# Few-shot protocol: for each seed, search a prompt layout (DPLSearch), train TRAINER with it, test;
# then the mean and 95% CI over seeds. Usage: bash scripts/dpl/main.sh DATASET SHOTS
#   TRAINER=MaPLe bash scripts/dpl/main.sh caltech101 16      (DPL + MaPLe)
#   LAYOUT=uniform:2:9 TRAINER=IVLP bash scripts/dpl/main.sh caltech101 16   (hand layout, no search)
#   bash scripts/dpl/main.sh --dry-run caltech101 16             (print every train.py command, run nothing)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
protocol main "$@"
