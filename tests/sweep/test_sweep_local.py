"""A small sweep on submitit's local executor (2 datasets x DPL + CoOp, one seed, tiny-random): the runner is SIGKILLed
mid-way and started again; the table completes and every job ran exactly once (counted from the logs). One seed: a
second doubled the test's time (it was the suite's slowest) and adds jobs of the same kinds only."""
import json
import signal
import subprocess
import time

from sweep_helpers import FAST, REPO, env, run_sweep, sweep_argv

SWEEP = ["--datasets", "demo", "caltech101", "--seeds", "1", "--trainers", "DPL", "CoOp", "--max-parallel", "2",
         "--threads-per-job", "1", *FAST]


def state_entries(output):
    files = list(output.glob(".sweeps/*/state.json"))
    return json.loads(files[0].read_text()) if files else {}


def test_killed_runner_restarts_and_finishes_each_job_once(sweep_data, tmp_path):
    output = tmp_path / "out"
    runner = subprocess.Popen(sweep_argv(sweep_data, output, *SWEEP), cwd=REPO, env=env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:  # kill once some jobs finished and others are running
        entries = state_entries(output)
        if sum(e["status"] == "done" for e in entries.values()) >= 2 and len(entries) >= 4:
            break
        time.sleep(0.5)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    entries = state_entries(output)
    assert any(e["status"] == "submitted" for e in entries.values())  # killed with jobs in flight

    second = run_sweep(sweep_data, output, *SWEEP)
    assert "still running from an earlier runner" in second.stdout or "started" in second.stdout
    assert "6 done, 0 running, 0 failed, 0 pending" in second.stdout
    assert "| demo" in second.stdout and "| caltech101" in second.stdout and "DPL" in second.stdout

    runs = [p.parent for p in output.rglob("log.txt")]
    assert len(runs) == 6  # 2 searches, 2 DPL, 2 CoOp
    for run in runs:
        logs = list(run.glob("log.txt*"))
        assert len(logs) == 1, f"{run} was started {len(logs)} times"
        text = logs[0].read_text()
        assert text.count("Finish training") == 1 and text.count("No checkpoint found") == 1, run
    status = run_sweep(sweep_data, output, *SWEEP, "--status")
    assert "6 done" in status.stdout and "started" not in status.stdout

    # the same sweep with another learning rate: its runs get folders of their own (..._lr0.5), so nothing is
    # finished or refused, and no finished run of the first sweep is reported as this one's
    changed = run_sweep(sweep_data, output, *SWEEP, "OPTIM.LR", "0.5", "--status")  # SWEEP ends with its --opts
    assert "0 done, 0 running, 0 failed, 6 pending" in changed.stdout, changed.stdout
    assert "refused" not in changed.stdout and "started" not in changed.stdout
    assert sum(len(list(run.glob("log.txt*"))) for run in runs) == 6  # nothing ran again
