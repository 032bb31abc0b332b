#!/usr/bin/env bash
# The paper's whole protocol as sweeps on submitit (python -m dpl.sweep): few-shot (11 datasets x 1/2/4/8/16 shots),
# base-to-new (11 datasets, 16 shots) and cross-dataset (ImageNet -> the other 10 datasets and the 4 ImageNet
# variants), seeds 1 2 3. The same folders as main.sh & co.: finished runs of either are reused.
# Usage: bash scripts/dpl/sweep.sh [local|slurm] [more dpl.sweep arguments]
#   bash scripts/dpl/sweep.sh local --trainers DPL MaPLe          # every GPU of this machine
#   bash scripts/dpl/sweep.sh slurm --slurm-partition gpu --timeout-min 720
#   bash scripts/dpl/sweep.sh local --status                        # progress and tables so far
# Environment: DATA, OUTPUT, BACKBONE as for the other scripts; PROTOCOLS (default "fewshot base2new xd").
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
protocol sweep "$@"
