"""Seconds per DPLSearch iteration through ``train.py``, as a user meets it: a random CLIP of ViT-B/16's published
shapes, a generated folder dataset of C classes, the shipped search config, batch 4 (the alpha step on the first
16-image validation batch, the prompt step on 4 training images).

It runs the ``train.py`` of any checkout, each with its own extra options (``--run LABEL CHECKOUT [KEY VALUE
...]``), so one command times two commits, or two settings, in the same hour:

    python benchmarks/time_search_iteration.py --classes 10 --run old /tmp/old-checkout --run now . \
        --run now-cycle . TRAINER.DPL.ALPHA_BATCHES cycle

Per iteration it reads Dassl's progress line (``TRAIN.PRINT_FREQ 1``) and takes ``time - data`` (the step
without loading); the first ``--skip`` iterations are warm-up; it prints the mean and median of the next
``--iters`` and stops the run there. Compare means over whole cycles of the validation loader: with
``ALPHA_BATCHES cycle`` (the only behaviour before b129aab) the alpha step's batch size follows the loader (at 10
classes x 2 val images: 16, 4, 16, 4, ...), so a median can pick the small batches. The weights and images are
made once under ``--work`` and reused by every checkout.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

VITB16 = dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=16,
              context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8,
              transformer_layers=12)
# --small: ViT-B/16's depth (12 + 12 layers) at small widths and 32-pixel images. Every layer still runs every
# operator, so the step is bound by dispatching them, as a batch-4 step is on a GPU.
SMALL_WIDTHS = dict(embed_dim=32, vision_width=64, transformer_width=64, transformer_heads=2, image_resolution=32,
                    vision_patch_size=16)
SMALL_OPTS = ["INPUT.SIZE", "(32, 32)"]
IMAGES_PER_CLASS = 10  # CustomFolder splits 50/20/30: 5 train, 2 val, 3 test per class
PROGRESS = re.compile(r"batch \[(\d+)/(\d+)\] time ([\d.]+) \([\d.]+\) data ([\d.]+)")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", nargs="+", action="append", required=True, metavar="LABEL CHECKOUT [KEY VALUE]",
                   help="a label, a checkout whose train.py to time, and config options for it (repeatable)")
    p.add_argument("--classes", type=int, nargs="+", default=[10])
    p.add_argument("--iters", type=int, default=4, help="iterations timed after the warm-up")
    p.add_argument("--skip", type=int, default=1, help="warm-up iterations not counted")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--small", action="store_true", help="ViT-B/16's depth at small widths (dispatch-bound steps)")
    p.add_argument("--rounds", type=int, default=1, help="run every --run this many times, alternating")
    p.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "dpl-time-search"))
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    for run in args.run:
        if len(run) < 2 or len(run) % 2:
            p.error(f"--run {' '.join(run)}: expected LABEL CHECKOUT and then KEY VALUE pairs")
    return args


def make_weights(work, small=False):
    """A random ViT-B/16 state dict (``small``: at small widths) saved where the loader looks for OpenAI's file
    (the folder to set as DPL_CLIP_CACHE)."""
    cache = os.path.join(work, "clip_small" if small else "clip_cache")
    path = os.path.join(cache, "ViT-B-16.pt")
    if not os.path.isfile(path):
        import torch
        from clip.model import CLIP
        os.makedirs(cache, exist_ok=True)
        torch.manual_seed(0)
        state = CLIP(**dict(VITB16, **(SMALL_WIDTHS if small else {}))).state_dict()
        torch.save(state, path + ".tmp")
        os.replace(path + ".tmp", path)
    return cache


def make_dataset(work, n_classes):
    """``n_classes`` folders of small random JPEGs (made once)."""
    folder = os.path.join(work, "data", f"classes{n_classes}")
    done = os.path.join(folder, ".complete")
    if not os.path.isfile(done):
        import numpy as np
        from PIL import Image
        rng = np.random.default_rng(n_classes)
        for c in range(n_classes):
            class_dir = os.path.join(folder, f"class_{c:04d}")
            os.makedirs(class_dir, exist_ok=True)
            for i in range(IMAGES_PER_CLASS):
                pixels = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(os.path.join(class_dir, f"{i:02d}.jpg"))
        open(done, "w").close()
    return folder


def git_describe(repo):
    out = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def time_one(repo, opts, folder, cache, args):
    """Run the search in ``repo`` until ``skip + iters`` iterations are logged; their step times (seconds)."""
    out_dir = os.path.join(args.work, "runs", f"{git_describe(repo)}-{time.time_ns()}")
    cmd = [sys.executable, "train.py", "--root", os.path.join(args.work, "data"), "--seed", "1",
           "--trainer", "DPLSearch", "--config-file", "configs/trainers/DPL/search.yaml",
           "--dataset-config-file", "configs/datasets/custom_folder.yaml", "--output-dir", out_dir,
           "DATASET.FOLDER", folder, "DATASET.NUM_SHOTS", "4", "OPTIM.MAX_EPOCH", "1",
           "TRAIN.PRINT_FREQ", "1", "DATALOADER.NUM_WORKERS", "0", *(SMALL_OPTS if args.small else []), *opts]
    env = dict(os.environ, DPL_CLIP_CACHE=cache, PYTHONPATH=os.path.abspath(repo),
               OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    steps, tail = [], []
    try:
        for line in proc.stdout:
            tail = (tail + [line])[-30:]
            m = PROGRESS.search(line)
            if m:
                steps.append(float(m.group(3)) - float(m.group(4)))
                if len(steps) >= args.skip + args.iters:
                    break
    finally:
        proc.kill()
        proc.wait()
    if len(steps) < args.skip + args.iters:
        sys.exit(f"{repo}: the run ended after {len(steps)} logged iterations (wanted {args.skip + args.iters}; "
                 f"more classes give more per epoch). Its last lines:\n{''.join(tail)}")
    return steps[args.skip:]


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    cache = make_weights(args.work, args.small)
    results = []
    for n_classes in args.classes:
        folder = make_dataset(args.work, n_classes)
        times = [[] for _ in args.run]
        for _ in range(args.rounds):
            for i, (label, repo, *opts) in enumerate(args.run):
                times[i] += time_one(repo, opts, folder, cache, args)
        for (label, repo, *opts), steps in zip(args.run, times):
            row = dict(classes=n_classes, label=label, repo=repo, commit=git_describe(repo), opts=opts,
                       mean_s=statistics.mean(steps), median_s=statistics.median(steps), steps_s=steps)
            results.append(row)
            print(f"{n_classes} classes  {label:<12} {row['commit']:>9}  mean {row['mean_s']:.3f}  median "
                  f"{row['median_s']:.3f} s/iteration  (steps: {' '.join(f'{t:.2f}' for t in steps)})  "
                  f"{' '.join(opts)}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
