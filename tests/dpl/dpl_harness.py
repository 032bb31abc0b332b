"""Build DPL / DPLSearch trainers in-process (train.py's arguments) on the Demo dataset with tiny-random.
(A module of its own: every test folder has a conftest.py, so ``from conftest import`` would be ambiguous.)"""
from trainer_harness import build_as_train_py

FAST = ["DATASET.NUM_SHOTS", 2, "OPTIM.MAX_EPOCH", 1, "DATALOADER.NUM_WORKERS", 0,
        "DATALOADER.TRAIN_X.BATCH_SIZE", 4, "DATALOADER.TEST.BATCH_SIZE", 8, "TRAIN.PRINT_FREQ", 100,
        "TRAINER.DPL.MAX_LENGTH", 2, "TRAINER.DPL.CTX_INIT", "default",
        "OPTIM.LR", 0.05, "TRAINER.DPL.ALPHA_LR", 0.05]


def build(data_root, output_dir, trainer="DPLSearch", opts=(), seed=1):
    """A trainer as ``train.py`` would build it (seeded), without training."""
    config = "DPL/search.yaml" if trainer == "DPLSearch" else "DPL/vit_b16_ep40.yaml"
    return build_as_train_py(trainer, config, data_root, output_dir, [*FAST, *opts], seed)
