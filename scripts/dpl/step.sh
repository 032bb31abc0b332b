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
# --plan prints for each seed and step of this TRAINER "step <seed> <step> <finished|todo> <run folder>" (finished:
# its results.json / layout.json exists) and then the step's train.py arguments, "arg <value>" one per line.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage="usage: bash scripts/dpl/step.sh [search | train | test] PROTOCOL DATASET SHOTS SEED, or --plan ... SEED..."
STEP="${1:-}"
[[ $# -ge 5 ]] || die "$usage"
[[ "$4" =~ ^[0-9]+$ ]] || die "SHOTS must be a number of shots per class, got '$4'"
for seed in "${@:5}"; do [[ "$seed" =~ ^[0-9]+$ ]] || die "SEED must be a number, got '$seed'"; done

# plan_step SEED STEP MARKER DIR: the step's line, then its train.py arguments (RUN_ARGS), one "arg" line each.
plan_step() {
    local state=todo
    if [[ -f "$4/$3" ]]; then state=finished; fi  # a marker present: the sweep checks its fingerprint
    echo "step $1 $2 $state $4"
    train_args --output-dir "$4" "${RUN_ARGS[@]}"
    printf 'arg %s\n' "${PY_ARGS[@]}"
}

if [[ "$STEP" == "--plan" ]]; then
    for seed in "${@:5}"; do
        protocol_paths "$2" "$3" "$4" "$seed"
        if [[ "$LAYOUT_MODE" == "searched" ]]; then
            search_run_args "${TRAIN_ARGS[@]}"
            plan_step "$seed" search layout.json "$SEARCH_DIR"
        fi
        train_run_args "$SEARCH_DIR" "${TRAIN_ARGS[@]}"
        plan_step "$seed" train results.json "$TRAIN_DIR"
        if [[ -n "$TEST_DIR" ]]; then
            test_run_args "$SEARCH_DIR" "$TRAIN_DIR" "${TEST_ARGS[@]}"
            plan_step "$seed" test results.json "$TEST_DIR"
        fi
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
