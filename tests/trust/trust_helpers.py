"""What the trust tests share: train.py's cli in this process, and the arguments of a one-epoch CoOp run on the
fake caltech101 with tiny-random."""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CALTECH = ["--dataset-config-file", str(REPO / "configs/datasets/caltech101.yaml"),
           "--config-file", str(REPO / "configs/trainers/CoOp/vit_b16_ep50.yaml")]


def train_cli(argv):
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from train import cli

    return cli(argv)


def coop_args(root, out, *extra):
    return ["--root", str(root), "--output-dir", str(out), "--seed", "1", "--trainer", "CoOp",
            "--backbone", "tiny-random", *CALTECH, *extra, "DATASET.NUM_SHOTS", "1", "OPTIM.MAX_EPOCH", "1",
            "DATALOADER.NUM_WORKERS", "0", "USE_CUDA", "False"]
