"""--jobs-per-gpu K: K jobs at once on each GPU (group), each with its share of the CPU threads. No GPU here: a GPU id
given with --gpus is only handed to the job (CUDA_VISIBLE_DEVICES), and tiny-random runs on the CPU."""
from sweep_helpers import FAST, run_sweep


def zero_shot_sweep(*seeds):
    return ["--cluster", "local", "--datasets", "demo", "--seeds", *seeds, "--trainers", "ZeroshotCLIP", "--gpus", "0"]


ARGS = zero_shot_sweep("1", "2", "3")


def started_before_first_done(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith("[sweep] ")]
    first_done = next(i for i, line in enumerate(lines) if line.startswith("[sweep] done:"))
    return sum(line.startswith("[sweep] started:") for line in lines[:first_done])


def test_two_jobs_share_one_gpu_and_the_report_counts_them(sweep_data, tmp_path):
    packed = run_sweep(sweep_data, tmp_path / "packed", *ARGS, "--jobs-per-gpu", "2", *FAST)
    assert started_before_first_done(packed.stdout) == 2, packed.stdout
    assert packed.stdout.count("on GPU 0") == 3
    assert "[sweep] jobs per GPU (up to 2 at once): GPU 0: 3" in packed.stdout
    assert "3 done, 0 running, 0 failed, 0 pending" in packed.stdout
    # without the option one at a time (two jobs show it: the second starts after the first is done)
    one = run_sweep(sweep_data, tmp_path / "one", *zero_shot_sweep("1", "2"), *FAST)
    assert started_before_first_done(one.stdout) == 1, one.stdout


def test_bad_values_are_refused_by_name(sweep_data, tmp_path):
    zero = run_sweep(sweep_data, tmp_path / "out", *ARGS, "--jobs-per-gpu", "0", *FAST, check=False)
    assert zero.returncode == 2 and "--jobs-per-gpu 0" in zero.stderr
    slurm = run_sweep(sweep_data, tmp_path / "out", "--cluster", "slurm", "--datasets", "demo", "--seeds", "1",
                      "--trainers", "ZeroshotCLIP", "--jobs-per-gpu", "2", *FAST, check=False)
    assert slurm.returncode == 2 and "SLURM" in slurm.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written
