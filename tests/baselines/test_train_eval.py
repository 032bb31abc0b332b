"""Each baseline through train.py's code path (in-process, tiny-random, Demo data): train on base classes with
its published config, save only the learned prompts, and evaluate that checkpoint on the new classes."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
CONFIGS = {
    "CoCoOp": "CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml",
    "IVLP": "IVLP/vit_b16_c2_ep5_batch4_2+2ctx.yaml",
    "VPT": "VPT/vit_b16_c2_ep5_batch4_4.yaml",
    "MaPLe": "MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml",
    "PromptSRC": "PromptSRC/vit_b16_c2_ep20_batch4_4+4ctx.yaml",
}
FAST = ["MODEL.BACKBONE.NAME", "tiny-random", "DATASET.NUM_SHOTS", "2", "OPTIM.MAX_EPOCH", "2",
        "DATALOADER.NUM_WORKERS", "0", "DATALOADER.TRAIN_X.BATCH_SIZE", "4", "DATALOADER.TEST.BATCH_SIZE", "50"]


def train_cli():
    spec = importlib.util.spec_from_file_location("dpl_train_script", REPO / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cli


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.mark.parametrize("trainer", sorted(CONFIGS))
def test_train_on_base_then_evaluate_on_new(trainer, data_root, tmp_path):
    cli = train_cli()
    common = ["--root", str(data_root), "--seed", "1", "--trainer", trainer,
              "--dataset-config-file", str(REPO / "configs/datasets/demo.yaml"),
              "--config-file", str(REPO / "configs/trainers" / CONFIGS[trainer])]
    base, new = tmp_path / "base", tmp_path / "new"
    cli(common + ["--output-dir", str(base)] + FAST + ["DATASET.SUBSAMPLE_CLASSES", "base"])

    checkpoint = torch.load(base / "prompt_learner" / "model.pth.tar-2", map_location="cpu", weights_only=True)
    keys = set(checkpoint["state_dict"])
    assert keys and not any(k.startswith(("clip.", "visual.", "transformer.", "token_embedding")) for k in keys)
    n_saved = sum(t.numel() for t in checkpoint["state_dict"].values())
    assert n_saved < 200_000  # prompts (and MaPLe's projections / CoCoOp's meta-net), never the backbone

    cli(common + ["--output-dir", str(new), "--model-dir", str(base), "--load-epoch", "2", "--eval-only"]
        + FAST + ["DATASET.SUBSAMPLE_CLASSES", "new"])
    result = json.loads((new / "results.json").read_text())
    text = json.dumps(result)
    assert "accuracy" in text
    log = (new / "log.txt").read_text()
    assert "* total:" in log and "Loading weights to prompt_learner" in log
