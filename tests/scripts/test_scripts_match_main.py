"""The protocol scripts after the move of their rules into Python (dpl/protocol) make exactly the train.py calls the
bash version made (fixtures/calls_of_main_scripts.json, recorded with main's scripts and the fake PYTHON), and run
folders written by that version are skipped as finished: not run again, not refused."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from test_protocol_scripts import FAKE, calls, env, run  # noqa: F401 (env is a fixture)

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "calls_of_main_scripts.json").read_text())


def placed(argv, env):
    names = {"{OUTPUT}": env["OUTPUT"], "{DATA}": env["DATA"], "{CONFIG_ROOT}": env["CONFIG_ROOT"]}
    out = []
    for a in argv:
        for name, value in names.items():
            a = a.replace(name, value)
        out.append(a)
    return out


def test_every_script_makes_the_calls_the_bash_version_made(env):
    for case in RECORDED:
        n = len(calls(env))
        run(case["script"], *case["args"], env=env, **case["env"])
        got = [c["argv"] for c in calls(env)[n:]]
        assert got == [placed(a, env) for a in case["calls"]], (case["script"], case["args"], case["env"])


@pytest.mark.parametrize("case", RECORDED, ids=lambda c: f"{c['script']}-{'-'.join(c['args'])}-{len(c['env'])}")
def test_folders_of_the_bash_version_are_skipped_as_finished(env, tmp_path, case):
    for argv in case["calls"]:  # what those runs left: their marker carrying their (fake) fingerprint
        subprocess.run([sys.executable, str(FAKE), "train.py", *placed(argv, env)], check=True,
                       env={"FAKE_PY_LOG": str(tmp_path / "made.jsonl")})
    proc = run(case["script"], *case["args"], env=env, **case["env"])
    assert calls(env) == [] and proc.stdout.count("skip: ") == len(case["calls"])


def test_dry_run_prints_every_command_and_runs_nothing(env):
    import shlex

    proc = run("main.sh", "--dry-run", "demo", 4, env=env)
    assert calls(env) == []
    printed = [shlex.split(line) for line in proc.stdout.splitlines() if " train.py " in line]
    expected = [placed(a, env) for a in RECORDED[0]["calls"]]  # main.sh demo 4, DPL, seeds 1 2
    assert [p[p.index("train.py") + 1:] for p in printed] == expected
    assert all(p[:2] == env["PYTHON"].split() for p in printed)


def test_each_command_is_printed_before_it_runs(env):
    import shlex

    proc = run("main.sh", "demo", 4, env=env, SEEDS="1", TRAINER="CoOp")
    (command,) = [line[2:] for line in proc.stdout.splitlines() if line.startswith("$ ")]
    assert shlex.split(command)[2:] == ["train.py", *calls(env)[0]["argv"]]
