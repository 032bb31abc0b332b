"""The protocol scripts after the move of their rules into Python (dpl/protocol) make exactly the train.py calls the
bash version made (fixtures/calls_of_main_scripts.json, recorded with main's scripts and the fake PYTHON), and run
folders written by that version are skipped as finished: not run again, not refused. One change since: OPTS name the
run folders (docs/run_folders.md), so under the tests' OPTS (OPTIM.MAX_EPOCH 2) the folders the bash version named
..._ep40 are now ..._ep2, and runs it left there are not taken for this configuration's."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from test_protocol_scripts import FAKE, calls, env, run  # noqa: F401 (env is a fixture)

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "calls_of_main_scripts.json").read_text())


# The bash version's folder names -> today's under OPTIM.MAX_EPOCH 2: a config's epoch word states 2, a name
# stating no epochs gets the suffix _ep2.
RENAMED = {"/search_tiny_random_4shots/": "/search_tiny_random_4shots_ep2/",
           "/search_tiny_random_2shots/": "/search_tiny_random_2shots_ep2/", "/search_4shots/": "/search_4shots_ep2/",
           "/search_tiny_random/": "/search_tiny_random_ep2/", "_ep40": "_ep2", "_ep50_": "_ep2_", "_ep5_": "_ep2_",
           "/ZeroshotCLIP/tiny_random_4shots/": "/ZeroshotCLIP/tiny_random_4shots_ep2/"}


def with_opts(case):
    return case["env"].get("OPTS") != ""


def placed(argv, env, renamed=False):
    names = {"{OUTPUT}": env["OUTPUT"], "{DATA}": env["DATA"], "{CONFIG_ROOT}": env["CONFIG_ROOT"]}
    out = []
    for a in argv:
        if renamed and a.startswith("{OUTPUT}"):  # run folders only, not the config files' names
            for old, new in RENAMED.items():
                a = a.replace(old, new)
        for name, value in names.items():
            a = a.replace(name, value)
        out.append(a)
    return out


def test_every_script_makes_the_calls_the_bash_version_made(env):
    for case in RECORDED:
        n = len(calls(env))
        run(case["script"], *case["args"], env=env, **case["env"])
        got = [c["argv"] for c in calls(env)[n:]]
        expected = [placed(a, env, with_opts(case)) for a in case["calls"]]
        assert got == expected, (case["script"], case["args"], case["env"])


@pytest.mark.parametrize("case", RECORDED, ids=lambda c: f"{c['script']}-{'-'.join(c['args'])}-{len(c['env'])}")
def test_folders_of_the_bash_version_are_skipped_as_finished(env, tmp_path, case):
    for argv in case["calls"]:  # what those runs left: their marker carrying their (fake) fingerprint
        subprocess.run([sys.executable, str(FAKE), "train.py", *placed(argv, env)], check=True,
                       env={"FAKE_PY_LOG": str(tmp_path / "made.jsonl")})
    made = sorted(p.read_bytes() for p in Path(env["OUTPUT"]).rglob("*.json"))
    proc = run(case["script"], *case["args"], env=env, check=False, **case["env"])
    if with_opts(case) and case["script"].endswith("_test.sh"):  # the model trained under the old name is not taken
        assert proc.returncode == 2 and "no trained model in" in proc.stderr and "_ep2/seed1" in proc.stderr
    elif with_opts(case):  # folders now named by OPTS: runs in them, not refused, the old runs untouched
        assert proc.returncode == 0 and [c["argv"] for c in calls(env)] == [placed(a, env, True) for a in case["calls"]]
        assert all(p in sorted(q.read_bytes() for q in Path(env["OUTPUT"]).rglob("*.json")) for p in made)
    else:
        assert proc.returncode == 0 and calls(env) == [] and proc.stdout.count("skip: ") == len(case["calls"])


def test_dry_run_prints_every_command_and_runs_nothing(env):
    import shlex

    proc = run("main.sh", "--dry-run", "demo", 4, env=env)
    assert calls(env) == []
    printed = [shlex.split(line) for line in proc.stdout.splitlines() if " train.py " in line]
    expected = [placed(a, env, True) for a in RECORDED[0]["calls"]]  # main.sh demo 4, DPL, seeds 1 2
    assert [p[p.index("train.py") + 1:] for p in printed] == expected
    assert all(p[:2] == env["PYTHON"].split() for p in printed)


def test_each_command_is_printed_before_it_runs(env):
    import shlex

    proc = run("main.sh", "demo", 4, env=env, SEEDS="1", TRAINER="CoOp")
    (command,) = [line[2:] for line in proc.stdout.splitlines() if line.startswith("$ ")]
    assert shlex.split(command)[2:] == ["train.py", *calls(env)[0]["argv"]]
