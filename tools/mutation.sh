#!/usr/bin/env bash
# Mutation score of the methods' maths (mutmut 3): mutates MODULES in a scratch copy of the checkout and runs TESTS
# against every mutant. Not in CI (minutes per module on 2 cores); docs/testing.md records the last run.
#   pip install mutmut
#   bash tools/mutation.sh                                    # defaults below
#   MODULES="trainers/dpl.py dpl/method/text.py" TESTS="tests/methods/test_losses.py" bash tools/mutation.sh
# TESTS: test files, folders or node ids, separated by spaces. TEST_FILTER: a pytest -k expression over them
# (e.g. to leave out the other trainers' parametrizations of a shared test, which only slow the run down).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
MODULES="${MODULES:-trainers/promptsrc.py trainers/dpl.py}"
TESTS="${TESTS:-tests/methods/test_losses.py}"
WORK="${WORK:-$(mktemp -d)}"
mkdir -p "$WORK"
echo "mutating: $MODULES; tests: $TESTS ${TEST_FILTER:+-k '$TEST_FILTER'}; scratch copy: $WORK"
# a copy without build outputs or earlier mutants, so the checkout itself is never touched
tar -C "$REPO" --exclude=.git --exclude=./mutants --exclude=./output --exclude=./data --exclude='*.egg-info' -cf - . \
  | tar -C "$WORK" -xf -
cd "$WORK"
paths=$(printf '"%s", ' $MODULES)
tests=$(printf '"%s", ' $TESTS)
if [ -n "${TEST_FILTER:-}" ]; then tests="$tests\"-k\", \"$TEST_FILTER\", "; fi
cat >> pyproject.toml <<TOML

[tool.mutmut]
source_paths = [${paths%, }]
pytest_add_cli_args_test_selection = [${tests%, }]
also_copy = ["dpl", "trainers", "datasets", "configs", "tests", "train.py"]
TOML
# mutmut drops the working folder from sys.path; train.py (which the tests import) is served from a folder of its own
mkdir -p "$WORK/entry" && cp train.py "$WORK/entry/"
export PYTHONPATH="$WORK/entry"
mutmut run --max-children "${JOBS:-1}" || true
mutmut results --all true | tee "$WORK/mutmut_results.txt"
echo "results: $WORK/mutmut_results.txt (mutmut show <name> prints a mutant's diff, run from $WORK)"
