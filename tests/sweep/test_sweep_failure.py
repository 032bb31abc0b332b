"""README: a failed job is listed with its error and its log and does not stop the others."""
from sweep_helpers import FAST, run_sweep


def test_a_failed_job_does_not_stop_the_others(sweep_data, tmp_path):
    # dtd is not under the data root: its job fails; demo's job still runs to its result
    proc = run_sweep(sweep_data, tmp_path / "out", "--cluster", "local", "--datasets", "dtd", "demo",
                     "--seeds", "1", "--trainers", "ZeroshotCLIP", "--max-parallel", "1", *FAST, check=False)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 done, 0 running, 1 failed, 0 pending" in proc.stdout, proc.stdout[-3000:]
    (failed,) = [line for line in proc.stdout.splitlines() if line.startswith("  failed: ")]
    assert "dtd" in failed and "Error: " in failed
    assert list((tmp_path / "out" / "demo").rglob("results.json"))
