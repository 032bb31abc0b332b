"""train.py on CUDA as a user runs it: search, then train on the searched layout, with worker processes feeding
pinned batches; the log says where it ran."""
import json
import os
import subprocess
import sys

import pytest
from cuda_helpers import DEVICE, REPO

pytestmark = pytest.mark.cuda

COMMON = ["--backbone", "tiny-random", "--seed", "1", "--dataset-config-file", "configs/datasets/demo.yaml",
          "DATASET.NUM_SHOTS", "2", "OPTIM.MAX_EPOCH", "1", "DATALOADER.NUM_WORKERS", "2",
          "DATALOADER.TRAIN_X.BATCH_SIZE", "4", "DATALOADER.TEST.BATCH_SIZE", "16", "TRAINER.DPL.MAX_LENGTH", "2"]


def train_py(*args):
    proc = subprocess.run([sys.executable, "train.py", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
                              str(REPO), os.environ.get("PYTHONPATH", "")]))})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_search_then_train_on_cuda(data_root, tmp_path):
    search, train = tmp_path / "search", tmp_path / "train"
    out = train_py("--root", data_root, "--trainer", "DPLSearch", "--config-file", "configs/trainers/DPL/search.yaml",
                   "--output-dir", search, *COMMON, "TRAINER.DPL.PREC", "amp")
    assert (search / "layout.json").is_file() and "Finish training" in out
    if DEVICE.type == "cuda":
        assert "CUDA available" in out and "precision: amp" in out
    out = train_py("--root", data_root, "--trainer", "DPL", "--config-file", "configs/trainers/DPL/vit_b16_ep40.yaml",
                   "--output-dir", train, *COMMON, "TRAINER.DPL.PREC", "fp16", "TRAINER.DPL.CTX_INIT", "default",
                   "TRAINER.LAYOUT", search / "layout.json")
    assert "* accuracy:" in out and "precision: fp16" in out
    record = json.loads((train / "results.json").read_text())
    assert 0.0 <= record["accuracy"] <= 100.0
