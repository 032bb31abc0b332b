"""How many operators one DPLSearch step dispatches (alpha step + prompt step, forward, backward and optimizer),
counted by torch.profiler on the CPU through the trainer that ``train.py`` builds. On a GPU at the paper's batch 4
every operator is a kernel launch the CPU has to issue, so this count is what bounds the step there.

The count depends on the depth of the towers and N, not on their widths: by default the CLIP has ViT-B/16's
12 + 12 layers at small widths (a few seconds); ``--full-size`` uses ViT-B/16's widths too.

    python benchmarks/count_search_ops.py                     # this checkout
    PYTHONPATH=/tmp/old python benchmarks/count_search_ops.py  # another checkout's trainer, same script

Printed: operator calls per step (every ``aten::`` call), the top-level ones (not called from inside another
operator: what Python and the autograd engine dispatch one by one) and the most frequent top-level names.
"""
import argparse
import collections
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from time_search_iteration import SMALL_OPTS, make_dataset, make_weights  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--full-size", action="store_true", help="ViT-B/16's widths as well as its depth")
    p.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "dpl-time-search"))
    p.add_argument("--top", type=int, default=15, help="most frequent top-level operators to list")
    p.add_argument("--json", help="also write the counts to this JSON file")
    p.add_argument("opts", nargs="*", help="extra config options (KEY VALUE ...)")
    return p.parse_args(argv)


def build_trainer(args, folder, cache):
    os.environ["DPL_CLIP_CACHE"] = cache
    from dpl.runs.train_args import parse_args as train_args
    from dpl.runs.config import setup_cfg
    from dpl.engine import build_trainer as build
    from dpl.engine.utils import set_random_seed
    from dpl.repo_packages import import_repo_package
    import_repo_package("datasets")  # fills the dataset registry, as train.py does
    argv = ["--root", os.path.join(args.work, "data"), "--seed", "1", "--trainer", "DPLSearch",
            "--config-file", "configs/trainers/DPL/search.yaml",
            "--dataset-config-file", "configs/datasets/custom_folder.yaml",
            "--output-dir", os.path.join(args.work, "run"), "DATASET.FOLDER", folder, "DATASET.NUM_SHOTS", "4",
            "DATALOADER.NUM_WORKERS", "0", *([] if args.full_size else SMALL_OPTS), *args.opts]
    cfg = setup_cfg(train_args(argv))
    set_random_seed(cfg.SEED)
    return build(cfg)


def one_step(trainer, batch):
    trainer.epoch, trainer.batch_idx, trainer.num_batches = 0, 0, len(trainer.train_loader_x)
    trainer.set_model_mode("train")
    trainer.forward_backward(batch)


def count(trainer, batch):
    one_step(trainer, batch)  # warm-up: caches, lazy optimizer state
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        one_step(trainer, batch)
    ops = [e for e in prof.events() if e.name.startswith("aten::")]

    def nested(e):
        parent = e.cpu_parent
        while parent is not None:
            if parent.name.startswith("aten::"):
                return True
            parent = parent.cpu_parent
        return False

    top = [e.name for e in ops if not nested(e)]
    return dict(all=len(ops), top_level=len(top), by_name=collections.Counter(top).most_common())


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    cache = make_weights(args.work, small=not args.full_size)
    folder = make_dataset(args.work, args.classes)
    trainer = build_trainer(args, folder, cache)
    batch = next(iter(trainer.train_loader_x))
    result = count(trainer, batch)
    print(f"one DPLSearch step ({args.classes} classes, batch {batch['img'].shape[0]}, "
          f"{'ViT-B/16' if args.full_size else 'ViT-B/16 depth, small widths'}): {result['all']} operator calls, "
          f"{result['top_level']} top-level")
    for name, n in result["by_name"][:args.top]:
        print(f"  {n:6d}  {name}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
