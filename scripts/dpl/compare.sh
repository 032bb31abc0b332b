#!/usr/bin/env bash
# Few-shot protocol for several trainers and datasets, then one table (mean ± 95% CI (seeds) per cell).
# Usage: bash scripts/dpl/compare.sh "ZeroshotCLIP CoOp DPL" "caltech101 dtd" 16
# Each trainer runs with its default config (CFG applies only when one trainer is given) and LAYOUT.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ $# -eq 3 ]] || die "usage: bash scripts/dpl/compare.sh \"TRAINERS\" \"DATASETS\" SHOTS"
read -r -a TRAINERS <<< "$1"
read -r -a DATASETS <<< "$2"
SHOTS="$3"
(( ${#TRAINERS[@]} > 0 && ${#DATASETS[@]} > 0 )) || die "give at least one trainer and one dataset"
if (( ${#TRAINERS[@]} > 1 )) && [[ -n "${CFG:-}" ]]; then
    echo "note: CFG=$CFG ignored: several trainers, each runs its default config"
    unset CFG
fi

EXP_DIRS=()
FAILED=()
for T in "${TRAINERS[@]}"; do
    TRAINER="$T"
    resolve_settings fewshot
    for D in "${DATASETS[@]}"; do
        echo "##### $T on $D ($SHOTS shots) #####"
        # One failing cell does not stop the others; the failures are listed at the end.
        if TRAINER="$T" OUTPUT="$OUTPUT" DATA="$DATA" bash "$REPO_ROOT/scripts/dpl/main.sh" "$D" "$SHOTS"; then
            EXP_DIRS+=("$(fewshot_exp_dir "$D" "$SHOTS")")
        else
            FAILED+=("$T/$D")
        fi
    done
done

echo
echo "Mean ± 95% CI over seeds (number of seeds), $SHOTS shots:"
(( ${#EXP_DIRS[@]} == 0 )) || parse_res --table "${EXP_DIRS[@]}"
if (( ${#FAILED[@]} > 0 )); then
    echo "FAILED (see their logs above): ${FAILED[*]}" >&2
    exit 1
fi
