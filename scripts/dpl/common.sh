#!/usr/bin/env bash
# Shared by the protocol scripts (sourced): they are thin wrappers around `python -m dpl.protocol` (dpl/protocol/),
# which holds the rules (configs, run-folder names, which step follows which, skip / refuse) once, for the scripts
# and the sweep alike. Settings are environment variables with defaults (README "The protocols"):
#   DATA BACKBONE SEEDS TRAINER CFG SEARCH_CFG FIXED LAYOUT OUTPUT PYTHON OPTS CONFIG_ROOT NPROC, SHOTS / LOAD_EPOCH
#   (base2new, xd), XD_SOURCE (xd). OPTS is split on whitespace: values cannot contain spaces.
# Every script takes --dry-run (or DRY_RUN=1): print each train.py command, run nothing.
set -euo pipefail

# Relative paths given by the user are relative to where they typed the command; runs start from the repository root.
export DPL_CALLER_PWD="$PWD"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"
# PYTHON (default: python, or python3 where only that exists) may carry arguments ("python3 -u"); the planner runs
# on its interpreter, train.py on the whole command.
PYTHON="${PYTHON:-$(command -v python > /dev/null && echo python || echo python3)}"
export PYTHON
read -r -a PYTHON_CMD <<< "$PYTHON"

# protocol COMMAND ARGS...: python -m dpl.protocol (see its --help).
protocol() {
    exec "${PYTHON_CMD[0]}" -m dpl.protocol "$@"
}
