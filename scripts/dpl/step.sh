#!/usr/bin/env bash
# One step of a protocol for one seed, run exactly as the protocol scripts run it (the sweep runs the same
# python -m dpl.protocol step), so shell scripts and sweeps share folders and skip / resume rules.
#
#   bash scripts/dpl/step.sh STEP PROTOCOL DATASET SHOTS SEED      # run it (skipped when finished)
#   bash scripts/dpl/step.sh --plan PROTOCOL DATASET SHOTS SEED...  # print the steps and their state, run nothing
#
# STEP: search | train | test. PROTOCOL: fewshot (search -> train, the train run tests), base2new (search and
# train on the base classes, test on the new ones), xd (search and train on XD_SOURCE, test on DATASET).
# Settings as for the other scripts (TRAINER, LAYOUT, CFG, SEARCH_CFG, BACKBONE, DATA, OUTPUT, OPTS, ...).
# --plan prints for each seed and step of this TRAINER "step <seed> <step> <finished|todo> <run folder>" (finished:
# its results.json / layout.json exists) and then the step's train.py arguments, "arg <value>" one per line.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
protocol step "$@"
