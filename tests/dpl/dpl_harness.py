"""Build DPL / DPLSearch trainers in-process (train.py's arguments) on the Demo dataset with tiny-random.
(A module of its own: every test folder has a conftest.py, so ``from conftest import`` would be ambiguous.)"""
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAST = ["DATASET.NUM_SHOTS", 2, "OPTIM.MAX_EPOCH", 1, "DATALOADER.NUM_WORKERS", 0,
        "DATALOADER.TRAIN_X.BATCH_SIZE", 4, "DATALOADER.TEST.BATCH_SIZE", 8, "TRAIN.PRINT_FREQ", 100,
        "TRAINER.DPL.MAX_LENGTH", 2, "TRAINER.DPL.CTX_INIT", "default",
        "OPTIM.LR", 0.05, "TRAINER.DPL.ALPHA_LR", 0.05]


def build(data_root, output_dir, trainer="DPLSearch", opts=(), seed=1):
    """A trainer as ``train.py`` would build it (seeded), without training."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from train import build_parser

    from dpl.config import setup_cfg
    from dpl.engine import build_trainer
    from dpl.engine.utils import set_random_seed

    import datasets  # noqa: F401  (registers Demo)
    import trainers  # noqa: F401  (registers DPL / DPLSearch)

    config = "search.yaml" if trainer == "DPLSearch" else "vit_b16_ep40.yaml"
    argv = ["--root", data_root, "--output-dir", str(output_dir), "--seed", str(seed), "--trainer", trainer,
            "--backbone", "tiny-random", "--dataset-config-file", str(REPO / "configs/datasets/demo.yaml"),
            "--config-file", str(REPO / "configs/trainers/DPL" / config), *[str(o) for o in [*FAST, *opts]]]
    cfg = setup_cfg(build_parser().parse_args(argv))
    set_random_seed(cfg.SEED)
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    return build_trainer(cfg)
