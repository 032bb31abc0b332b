"""Running ``python -m dpl.sweep`` as a user does (helpers of the sweep tests)."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAST = ["--backbone", "tiny-random", "--shots", "2", "--opts", "OPTIM.MAX_EPOCH", "1", "DATALOADER.NUM_WORKERS", "0",
        "DATALOADER.TEST.BATCH_SIZE", "16", "DATALOADER.TRAIN_X.BATCH_SIZE", "4"]


def sweep_argv(data, output, *extra):
    return [sys.executable, "-m", "dpl.sweep", "--data", str(data), "--output", str(output), *map(str, extra)]


def env(**extra):
    clean = {k: v for k, v in os.environ.items() if k not in ("TRAINER", "LAYOUT", "CFG", "SEARCH_CFG", "OPTS")}
    return {**clean, "PYTHONPATH": str(REPO), **extra}


def run_sweep(data, output, *extra, check=True, timeout=900, **env_extra):
    proc = subprocess.run(sweep_argv(data, output, *extra), cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env=env(**env_extra))
    if check:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc
