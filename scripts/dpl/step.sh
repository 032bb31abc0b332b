#!/usr/bin/env bash
# One step of a protocol for one seed, run exactly as the protocol scripts run it: the unit of work of the sweep
# runner (python -m dpl.sweep), so shell scripts and sweeps share folders and skip / resume rules.
#
#   bash scripts/dpl/step.sh STEP PROTOCOL DATASET SHOTS SEED      # run it (skipped when finished)
#   bash scripts/dpl/step.sh --plan PROTOCOL DATASET SHOTS SEED...  # print the steps and their state, run nothing
#
# STEP: search | train | test. PROTOCOL: fewshot (search -> train, the train run tests), base2new (search and
# train on the base classes, test on the new ones), xd (search and train on XD_SOURCE, test on DATASET).
# Settings as for the other scripts (TRAINER, LAYOUT, CFG, SEARCH_CFG, BACKBONE, DATA, OUTPUT, OPTS, ...).
# --plan prints one line per seed and step of this TRAINER: "<seed> <step> <finished|todo> <run folder>".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage="usage: bash scripts/dpl/step.sh [search | train | test] PROTOCOL DATASET SHOTS SEED, or --plan ... SEED..."
STEP="${1:-}"
[[ $# -ge 5 ]] || die "$usage"
[[ "$4" =~ ^[0-9]+$ ]] || die "SHOTS must be a number of shots per class, got '$4'"
for seed in "${@:5}"; do [[ "$seed" =~ ^[0-9]+$ ]] || die "SEED must be a number, got '$seed'"; done

state() {  # state DIR MARKER: finished or todo
    if [[ -f "$1/$2" ]]; then echo finished; else echo todo; fi
}

if [[ "$STEP" == "--plan" ]]; then
    for seed in "${@:5}"; do
        protocol_paths "$2" "$3" "$4" "$seed"
        if [[ "$LAYOUT_MODE" == "searched" ]]; then echo "$seed search $(state "$SEARCH_DIR" layout.json) $SEARCH_DIR"; fi
        echo "$seed train $(state "$TRAIN_DIR" results.json) $TRAIN_DIR"
        if [[ -n "$TEST_DIR" ]]; then echo "$seed test $(state "$TEST_DIR" results.json) $TEST_DIR"; fi
    done
    exit 0
fi
[[ $# -eq 5 ]] || die "$usage"
protocol_paths "$2" "$3" "$4" "$5"

case "$STEP" in
    search)
        [[ "$LAYOUT_MODE" == "searched" ]] || die "TRAINER=$TRAINER with LAYOUT=${LAYOUT:-<default>} needs no search"
        search_config > /dev/null
        run_search "$SEARCH_DIR" "${TRAIN_ARGS[@]}" ;;
    train)
        [[ "$LAYOUT_MODE" != "searched" || -f "$SEARCH_DIR/layout.json" ]] || \
            die "no searched layout $SEARCH_DIR/layout.json; run the search step first"
        train_on_layout "$SEARCH_DIR" "$TRAIN_DIR" "${TRAIN_ARGS[@]}" ;;
    test)
        [[ -n "$TEST_DIR" ]] || die "the $2 protocol has no separate test step (its train run tests)"
        test_trained "$SEARCH_DIR" "$TRAIN_DIR" "$TEST_DIR" "scripts/dpl/step.sh train $2 $3 $4 $5" "${TEST_ARGS[@]}" ;;
    *) die "STEP '$STEP': expected --plan, search, train or test" ;;
esac
