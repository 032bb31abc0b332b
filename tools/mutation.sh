#!/usr/bin/env bash
# Mutation score of the methods' maths (mutmut 3): mutates MODULES in a scratch copy of the checkout and runs TESTS
# against every mutant. Not in CI (minutes per module on 2 cores); docs/testing.md records the last run.
#   pip install mutmut
#   bash tools/mutation.sh                                    # defaults below
#   MODULES="trainers/dpl.py dpl/method/text.py" TESTS="tests/methods/test_losses.py" TEST_FILTER= bash tools/mutation.sh
# TESTS: test files, folders or node ids, separated by spaces. TEST_FILTER: a pytest -k expression over them
# (e.g. to leave out the other trainers' parametrizations of a shared test, which only slow the run down);
# empty: no filter. JOBS: mutants run at once (default 1). WORK: the scratch folder (default a new temporary one).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
MODULES="${MODULES:-trainers/promptsrc.py trainers/dpl.py}"
# the tests of these two modules (the resume test: PromptSRC's GPA running sum); about a minute for all of them
TESTS="${TESTS:-tests/methods tests/dpl/test_official_defaults.py tests/dpl/test_dpl_trainers.py tests/dpl/test_mutants_dpl.py tests/dpl/test_text_input_errors.py
  tests/baselines/test_configs.py tests/baselines/test_promptsrc.py tests/baselines/test_mutants_promptsrc.py
  tests/baselines/test_checkpoints.py
  tests/resume/test_kill_points.py::test_kill_at_every_rename_of_an_epoch_end_resumes_to_the_same_result[PromptSRC]}"
# leaves out the other trainers' parametrizations of the shared tests (they test other trainers, and slow each mutant)
TEST_FILTER="${TEST_FILTER-not (CoOp or CoCoOp or IVLP or VPT or MaPLe)}"
WORK="${WORK:-$(mktemp -d)}"
mkdir -p "$WORK"
echo "mutating: $MODULES; tests: $TESTS ${TEST_FILTER:+-k '$TEST_FILTER'}; scratch copy: $WORK"
# a copy without build outputs or earlier mutants, so the checkout itself is never touched
tar -C "$REPO" --exclude=.git --exclude=./mutants --exclude=./output --exclude=./data --exclude='*.egg-info' -cf - . \
  | tar -C "$WORK" -xf -
cd "$WORK"
paths=$(set -f; printf '"%s", ' $MODULES)
tests=$(set -f; printf '"%s", ' $TESTS)  # set -f: a node id's [param] is not a glob
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
