#!/usr/bin/env bash
# The paper's whole protocol as sweeps on submitit (python -m dpl.sweep): few-shot (11 datasets x 1/2/4/8/16 shots),
# base-to-new (11 datasets, 16 shots) and cross-dataset (ImageNet -> the other 10 datasets and the 4 ImageNet
# variants), seeds 1 2 3. The same folders as main.sh & co.: finished runs of either are reused.
# Usage: bash scripts/dpl/sweep.sh [local|slurm] [more dpl.sweep arguments]
#   bash scripts/dpl/sweep.sh local --trainers DPL MaPLe          # every GPU of this machine
#   bash scripts/dpl/sweep.sh slurm --slurm-partition gpu --timeout-min 720
#   bash scripts/dpl/sweep.sh local --status                        # progress and tables so far
# Environment: DATA, OUTPUT, BACKBONE as for the other scripts; PROTOCOLS (default "fewshot base2new xd").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CLUSTER="${1:-local}"
[[ "$CLUSTER" == "local" || "$CLUSTER" == "slurm" ]] || die "first argument: local or slurm, got '$CLUSTER'"
shift || true
DATASETS=(imagenet caltech101 oxford_pets stanford_cars oxford_flowers food101 fgvc_aircraft sun397 dtd eurosat ucf101)
XD_TARGETS=("${DATASETS[@]:1}" imagenetv2 imagenet_sketch imagenet_a imagenet_r)
SWEEP=("${PYTHON_CMD[@]}" -m dpl.sweep --cluster "$CLUSTER" --data "$DATA" --output "$OUTPUT" --backbone "$BACKBONE"
       --seeds 1 2 3)
(( ${#OPTS_ARR[@]} == 0 )) || SWEEP+=(--opts "${OPTS_ARR[@]}")

for PROTOCOL in ${PROTOCOLS:-fewshot base2new xd}; do
    echo "##### $PROTOCOL #####"
    case "$PROTOCOL" in
        fewshot) "${SWEEP[@]}" --protocol fewshot --datasets "${DATASETS[@]}" --shots 1 2 4 8 16 "$@" ;;
        base2new) "${SWEEP[@]}" --protocol base2new --datasets "${DATASETS[@]}" --shots 16 "$@" ;;
        xd) "${SWEEP[@]}" --protocol xd --xd-source imagenet --datasets "${XD_TARGETS[@]}" --shots 16 "$@" ;;
        *) die "PROTOCOLS holds '$PROTOCOL'; expected fewshot, base2new or xd" ;;
    esac
done
