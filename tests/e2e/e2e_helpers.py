"""End-to-end helpers: run ``train.py`` and the scripts as a user would, on generated data and tiny-random."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Fast settings shared by every end-to-end run: tiny backbone, few shots, short schedule, no workers.
FAST_OPTS = ["DATASET.NUM_SHOTS", "2", "OPTIM.MAX_EPOCH", "2", "DATALOADER.NUM_WORKERS", "0",
             "DATALOADER.TRAIN_X.BATCH_SIZE", "4", "DATALOADER.TEST.BATCH_SIZE", "16", "TRAIN.PRINT_FREQ", "1"]


def run_train(*args, check=True, timeout=300, env=None):
    """``python train.py ARGS`` from the repo root; returns the CompletedProcess (stdout+stderr as text)."""
    cmd = [sys.executable, str(REPO / "train.py"), *map(str, args)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"train.py failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def run_script(script, *args, env=None, check=True, timeout=600):
    """``bash scripts/dpl/SCRIPT ARGS`` with PYTHON pointing at this interpreter."""
    full_env = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    proc = subprocess.run(["bash", str(REPO / "scripts" / "dpl" / script), *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def demo_args(data_root, output_dir, trainer="CoOp", config="configs/trainers/CoOp/vit_b16_ep50.yaml", seed=1):
    return ["--root", data_root, "--seed", seed, "--trainer", trainer, "--backbone", "tiny-random",
            "--dataset-config-file", "configs/datasets/demo.yaml", "--config-file", config,
            "--output-dir", output_dir]


def run_train_many(argvs, folder, stderr=False, timeout=900):
    """Every ``train.py ARGS`` of ``argvs`` in one process (tests/e2e/train_many.py: one start-up for all) with its
    files in ``folder``; returns (exit statuses, each run's stderr or None, the CompletedProcess)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs_file, codes_file, stderr_dir = folder / "runs.json", folder / "codes.json", folder / "stderr"
    runs_file.write_text(json.dumps([[str(a) for a in argv] for argv in argvs]))
    extra = []
    if stderr:
        stderr_dir.mkdir(exist_ok=True)
        extra = [str(stderr_dir)]
    proc = subprocess.run([sys.executable, str(REPO / "tests/e2e/train_many.py"), str(runs_file), str(codes_file),
                           *extra], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert codes_file.exists(), proc.stderr[-3000:]
    codes = json.loads(codes_file.read_text())
    errors = [(stderr_dir / f"{i}.txt").read_text() if stderr else None for i in range(len(argvs))]
    return codes, errors, proc
