"""A toy dataset (generated images) and a toy TrainerX (one linear layer) registered for the engine tests,
plus a stand-in ``trainers`` package so the config tests do not depend on the real trainers."""
import os
import sys
import types

import numpy as np
import pytest
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from yacs.config import CfgNode as CN

from dpl.engine import TRAINER_REGISTRY, TrainerX
from dpl.engine.data.datasets import DATASET_REGISTRY, DatasetBase, Datum
from dpl.engine.metrics import compute_accuracy
from dpl.engine.optim import build_lr_scheduler, build_optimizer

TOY_CLASSES = ["red", "green", "blue"]


def _write_images(folder, per_class, seed):
    """Small images whose dominant colour is the class, with noise (so the task is learnable, not trivial)."""
    rng = np.random.RandomState(seed)
    items = []
    for label, name in enumerate(TOY_CLASSES):
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        for i in range(per_class):
            pixels = rng.randint(0, 200, size=(8, 8, 3))
            pixels[..., label] += 20
            path = os.path.join(folder, name, f"{i}.png")
            if not os.path.exists(path):
                Image.fromarray(pixels.astype(np.uint8)).save(path)
            items.append(Datum(impath=path, label=label, classname=name))
    return items


if "ToyEngineTrainerData" not in DATASET_REGISTRY:
    @DATASET_REGISTRY.register()
    class ToyEngineTrainerData(DatasetBase):
        def __init__(self, cfg):
            root = os.path.join(cfg.DATASET.ROOT, "toy_engine")
            train = _write_images(os.path.join(root, "train"), 4, seed=0)
            val = _write_images(os.path.join(root, "val"), 2, seed=1)
            test = _write_images(os.path.join(root, "test"), 3, seed=2)
            super().__init__(train_x=train, val=val, test=test)


if "ToyLinearTrainer" not in TRAINER_REGISTRY:
    @TRAINER_REGISTRY.register()
    class ToyLinearTrainer(TrainerX):
        """Flattened 8x8 image -> linear classifier, trained with the engine's optimiser and scheduler."""

        def build_model(self):
            size = tuple(self.cfg.INPUT.SIZE)
            self.model = nn.Sequential(nn.Flatten(), nn.Linear(3 * size[0] * size[1], self.num_classes))
            self.model.to(self.device)
            self.optim = build_optimizer(self.model, self.cfg.OPTIM)
            self.sched = build_lr_scheduler(self.optim, self.cfg.OPTIM)
            self.register_model("linear", self.model, self.optim, self.sched)

        def forward_backward(self, batch):
            image, label = self.parse_batch_train(batch)
            output = self.model(image)
            loss = F.cross_entropy(output, label)
            self.model_backward_and_update(loss)
            if (self.batch_idx + 1) == self.num_batches:
                self.update_lr()
            return {"loss": loss.item(), "acc": compute_accuracy(output, label)[0].item()}


def stub_trainers_module():
    """What ``trainers.extend_cfg`` does, for one pretend trainer node."""
    module = types.ModuleType("trainers")

    def extend_cfg(cfg):
        cfg.TRAINER.TOY = CN()
        cfg.TRAINER.TOY.PREC = "fp32"
        cfg.TRAINER.TOY.N_CTX = 4

    module.extend_cfg = extend_cfg
    return module


@pytest.fixture
def stub_trainers(monkeypatch):
    monkeypatch.setitem(sys.modules, "trainers", stub_trainers_module())


@pytest.fixture
def toy_cfg(stub_trainers, tmp_path):
    """A mutable config for ToyLinearTrainer on ToyEngineTrainerData; output in tmp_path/out."""
    from dpl.runs.config import get_cfg

    cfg = get_cfg()
    cfg.DATASET.ROOT = str(tmp_path / "data")
    cfg.DATASET.NAME = "ToyEngineTrainerData"
    cfg.OUTPUT_DIR = str(tmp_path / "out")
    cfg.TRAINER.NAME = "ToyLinearTrainer"
    cfg.USE_CUDA = False
    cfg.INPUT.SIZE = (8, 8)
    cfg.INPUT.TRANSFORMS = ("random_flip", "normalize")
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.DATALOADER.TRAIN_X.BATCH_SIZE = 4
    cfg.DATALOADER.TEST.BATCH_SIZE = 4
    cfg.OPTIM.NAME = "sgd"
    cfg.OPTIM.LR = 0.002
    cfg.OPTIM.LR_SCHEDULER = "cosine"
    cfg.OPTIM.MAX_EPOCH = 2
    cfg.OPTIM.WARMUP_EPOCH = 1
    cfg.OPTIM.WARMUP_TYPE = "constant"
    cfg.TRAIN.PRINT_FREQ = 2
    return cfg

