"""Data-parallel runs: ``torchrun --nproc_per_node 2 train.py`` (gloo, CPU) computes what one process computes: the
same search (alphas and prompts to float rounding, the same layout) and the same trained prompts and test accuracy
on that layout; only the first process writes files."""
import json
import os
import subprocess
import sys

import pytest
import torch

from dpl.engine.distributed import SeededBatchSampler, ShardedBatchSampler
from dpl.errors import ConfigError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMON = ["--seed", "1", "--backbone", "tiny-random", "--dataset-config-file", "configs/datasets/demo.yaml",
          "DATASET.NUM_SHOTS", "2", "OPTIM.MAX_EPOCH", "2", "DATALOADER.NUM_WORKERS", "0",
          "DATALOADER.TEST.BATCH_SIZE", "16", "TRAINER.DPL.MAX_LENGTH", "2", "TRAINER.DPL.CTX_INIT", "default"]


def train(out, processes, *args, data):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] \
        if processes > 1 else [sys.executable]
    if processes == 1:  # the reference: one process with the per-sample seeds a data-parallel run always uses
        args = (*args, "DATALOADER.PER_SAMPLE_SEEDS", "True")
    proc = subprocess.run([*launcher, "train.py", "--root", str(data), "--output-dir", str(out), *COMMON, *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": REPO})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


def checkpoints(out, model):
    return torch.load(out / model / "model.pth.tar-2", map_location="cpu", weights_only=True)["state_dict"]


def assert_same_training(one, two, models):
    for model in models:
        a, b = checkpoints(one, model), checkpoints(two, model)
        assert a.keys() == b.keys()
        for k in a:
            assert torch.allclose(a[k], b[k], atol=1e-6), (model, k, float((a[k] - b[k]).abs().max()))
    # only the first process wrote: one log, the same files
    assert [p.name for p in two.glob("log.txt*")] == ["log.txt"]
    assert sorted(p.relative_to(two) for p in two.rglob("*")) == sorted(p.relative_to(one) for p in one.rglob("*"))
    assert "Data-parallel run: 2 processes" in (two / "log.txt").read_text()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from dpl.testing import make_fake_dataset

    root = tmp_path_factory.mktemp("ddp_data")
    make_fake_dataset("Demo", root)
    return root


def test_two_processes_search_and_train_as_one(data, tmp_path):
    search = ["--trainer", "DPLSearch", "--config-file", "configs/trainers/DPL/search.yaml"]
    r1 = train(tmp_path / "search1", 1, *search, data=data)
    r2 = train(tmp_path / "search2", 2, *search, data=data)
    assert_same_training(tmp_path / "search1", tmp_path / "search2", ["prompt_learner", "architecture"])
    l1, l2 = (json.loads((tmp_path / d / "layout.json").read_text()) for d in ("search1", "search2"))
    assert (l1["vision"], l1["text"]) == (l2["vision"], l2["text"])
    assert r1["accuracy"] == r2["accuracy"]

    layout = str(tmp_path / "search1" / "layout.json")
    dpl = ["--trainer", "DPL", "--config-file", "configs/trainers/DPL/vit_b16_ep40.yaml", "TRAINER.LAYOUT", layout]
    t1 = train(tmp_path / "train1", 1, *dpl, data=data)
    t2 = train(tmp_path / "train2", 2, *dpl, data=data)
    assert_same_training(tmp_path / "train1", tmp_path / "train2", ["prompt_learner"])
    assert t1["accuracy"] == t2["accuracy"] and t1["macro_f1"] == t2["macro_f1"]


def test_shards_cover_every_batch_and_seeds_travel_with_the_samples():
    batches = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    shards = [list(ShardedBatchSampler(batches, 4, rank_=r, world=2)) for r in (0, 1)]
    assert shards == [[[0, 2], [4, 6], [8]], [[1, 3], [5, 7], [9]]]
    with pytest.raises(ConfigError, match="cannot be split over 3 processes"):
        list(ShardedBatchSampler(batches, 4, rank_=0, world=3))  # the last batch of 2 has no sample for rank 2
    assert list(ShardedBatchSampler(batches, 4, rank_=2, world=3, strict=False)) == [[2], [6]]
    with pytest.raises(ConfigError, match="batch of 2"):
        ShardedBatchSampler(batches, 2, world=3)
    torch.manual_seed(0)
    seeded = list(SeededBatchSampler(batches))
    assert [[i for i, _ in b] for b in seeded] == batches
    torch.manual_seed(0)
    assert list(SeededBatchSampler(batches)) == seeded  # the seeds follow the global RNG, like the batches
