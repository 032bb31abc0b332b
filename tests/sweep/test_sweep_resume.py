"""Resuming a sweep safely: a runner killed between starting a job and recording it does not start a second copy;
two runners on one sweep are refused; a sweep started outside the repository with relative paths runs and is found
again by its name alone, and a failed job is reported with its one-line error and its stderr log."""
import os
import subprocess
import sys

import pytest

from dpl.sweep.plan import Job
from dpl.sweep.runner import SweepState, run_local
from sweep_helpers import FAST, REPO, env


class CountingJob(Job):
    """A job that appends one line per start to ``count`` and writes its marker after a moment."""

    @property
    def command(self):
        code = ("import os, sys, time; open(sys.argv[1], 'a').write('started\\n'); time.sleep(3); "
                "os.makedirs(sys.argv[2], exist_ok=True); "
                "open(os.path.join(sys.argv[2], 'results.json'), 'w').write('{}')")
        return [sys.executable, "-c", code, os.path.join(os.path.dirname(self.run_dir), "count"), self.run_dir]


class RunnerKilled(BaseException):
    pass


def test_runner_killed_between_submit_and_record_does_not_start_a_copy(tmp_path):
    (tmp_path / "run").mkdir()
    job = CountingJob("train", "fewshot", "demo", 2, 1, "CoOp", str(tmp_path / "run" / "seed1"), {})
    folder = str(tmp_path / "sweep")
    state = SweepState(folder)
    record = state.record

    def dies_before_recording_the_submission(key, **fields):
        if fields.get("status") == "submitted":
            raise RunnerKilled
        record(key, **fields)

    state.record = dies_before_recording_the_submission
    with pytest.raises(RunnerKilled):
        run_local([job], state, max_parallel=1, timeout_min=5)
    lines = []
    run_local([job], SweepState(folder), max_parallel=1, timeout_min=5, log=lines.append)  # the runner started again
    assert any("still running from an earlier runner" in line for line in lines), lines
    assert not any("started:" in line for line in lines), lines
    assert (tmp_path / "run" / "count").read_text() == "started\n"
    assert job.is_finished()


def test_a_second_runner_on_the_same_sweep_is_refused(sweep_data, tmp_path):
    output = tmp_path / "out"
    first = SweepState(str(output / ".sweeps" / "mine"))
    first.lock()  # a runner holds the sweep
    argv = [sys.executable, "-m", "dpl.sweep", "--data", str(sweep_data), "--output", str(output), "--name", "mine",
            "--datasets", "demo", "--seeds", "1", "--trainers", "CoOp", *FAST]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300, env=env())
    assert proc.returncode == 2 and "another runner" in proc.stderr and str(os.getpid()) in proc.stderr
    assert "started" not in proc.stdout


def test_relative_paths_outside_the_repository_status_by_name_and_a_failed_jobs_error(tmp_path):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    (here / "empty_data").mkdir(parents=True)
    elsewhere.mkdir()
    (here / "mine.json").write_text("{}")
    base = [sys.executable, "-m", "dpl.sweep", "--seeds", "1", "--backbone", "tiny-random", "--shots", "2"]
    # a relative layout file, from outside the repository: planned (the jobs start from the repository root)
    status = subprocess.run([*base, "--data", "empty_data", "--output", "out", "--datasets", "caltech101",
                             "--trainers", "IVLP", "--layout", "mine.json", "--status"], cwd=here, capture_output=True,
                            text=True, timeout=300, env=env())
    assert status.returncode == 0 and "1 pending" in status.stdout, status.stderr
    # a job that fails (no Caltech101 under the data root): its error line and its stderr log in the summary
    run = subprocess.run([*base, "--data", "empty_data", "--output", "out", "--datasets", "caltech101", "--trainers",
                          "ZeroshotCLIP", "--name", "zs", "--opts", "DATALOADER.NUM_WORKERS", "0"], cwd=here,
                         capture_output=True, text=True, timeout=600, env=env())
    assert run.returncode == 1, run.stdout + run.stderr
    (failed,) = [line for line in run.stdout.splitlines() if line.startswith("  failed: ")]
    assert "Error: " in failed and "_log.err" in failed and "_log.out" not in failed
    # --status --name alone (with the output folder) from anywhere: the same sweep, not a new one
    again = subprocess.run([sys.executable, "-m", "dpl.sweep", "--status", "--name", "zs", "--output",
                            str(here / "out")], cwd=elsewhere, capture_output=True, text=True, timeout=300, env=env())
    assert again.returncode == 0, again.stderr
    assert "0 done, 0 running, 1 failed, 0 pending (of 1" in again.stdout and failed in again.stdout
    unknown = subprocess.run([sys.executable, "-m", "dpl.sweep", "--status", "--name", "nope", "--output",
                              str(here / "out")], cwd=elsewhere, capture_output=True, text=True, timeout=300, env=env())
    assert unknown.returncode == 2 and "no sweep named 'nope'" in unknown.stderr and "zs" in unknown.stderr


def test_a_finished_sweep_resumed_from_outside_the_repository_with_relative_paths_is_done(tmp_path):
    here = tmp_path / "here"
    (here / "data").mkdir(parents=True)
    argv = [sys.executable, "-m", "dpl.sweep", "--data", "data", "--output", "out", "--datasets", "demo", "--seeds", "1",
            "--trainers", "ZeroshotCLIP", "--backbone", "tiny-random", "--shots", "2",
            "--opts", "DATALOADER.NUM_WORKERS", "0", "DATALOADER.TEST.BATCH_SIZE", "16"]
    first = subprocess.run(argv, cwd=here, capture_output=True, text=True, timeout=600, env=env())
    assert first.returncode == 0 and "1 done" in first.stdout, first.stdout[-3000:] + first.stderr[-3000:]
    again = subprocess.run(argv, cwd=here, capture_output=True, text=True, timeout=600, env=env())
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "1 done, 0 running, 0 failed, 0 pending" in again.stdout and "started" not in again.stdout
