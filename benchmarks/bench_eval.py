"""Evaluation throughput of a DPL model: class text features computed once per evaluation (what
PromptTrainer.before_test does) versus recomputed for every test batch (the official code's path).

Random weights at ViT-B/16 shapes, 100 classes; ``--small`` runs a tiny model for a quick check.

    python benchmarks/bench_eval.py [--small] [--device cuda] [--classes 100 1000] [--batches 3] [--batch-size 16]
"""
import argparse
import json
import os
import sys
import time

import torch
from clip.model import CLIP

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dpl.prompting import PromptedCLIP, PromptLayout  # noqa: E402
from trainers.dpl import DPLLearner  # noqa: E402

# clip.model.CLIP constructor arguments: the published ViT-B/16 shapes and a tiny stand-in.
SHAPES = {
    "ViT-B/16": dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=16,
                     context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8,
                     transformer_layers=12),
    "small": dict(embed_dim=64, image_resolution=32, vision_layers=2, vision_width=64, vision_patch_size=16,
                  context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=2, transformer_layers=2),
}


def build(shape, n_classes, device):
    torch.manual_seed(0)
    model = CLIP(**SHAPES[shape]).float().eval().requires_grad_(False).to(device)
    clip_model = PromptedCLIP(model)
    layout = PromptLayout.uniform(2, clip_model.vision_layers, clip_model.text_layers, max_length=6, backbone=shape)
    names = [f"class {i}" for i in range(n_classes)]
    return DPLLearner(clip_model, names, layout, ctx_init="default").to(device).eval()


@torch.no_grad()
def images_per_second(learner, images, cache_text):
    """Seconds for one evaluation pass over ``images`` (a list of batches) -> images/s."""
    start = time.perf_counter()
    text = learner.class_text_features() if cache_text else None
    for batch in images:
        if cache_text:
            learner.logits_from(learner.image_features(batch), text)
        else:
            learner(batch)
    if batch.is_cuda:
        torch.cuda.synchronize()
    return sum(len(b) for b in images) / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny model instead of ViT-B/16 shapes")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--classes", type=int, nargs="+", default=[100])
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    shape = "small" if args.small else "ViT-B/16"
    runs = []
    for n_classes in args.classes:
        learner = build(shape, n_classes, device)
        res = learner.clip.visual.input_resolution
        images = [torch.randn(args.batch_size, 3, res, res, device=device) for _ in range(args.batches)]
        images_per_second(learner, images[:1], True)  # warm-up
        once = images_per_second(learner, images, True)
        per_batch = images_per_second(learner, images, False)
        print(f"{shape}, {n_classes} classes, {args.batches} batches of {args.batch_size} on {device.type}")
        print(f"text features once per evaluation : {once:8.1f} images/s")
        print(f"text features per test batch      : {per_batch:8.1f} images/s")
        print(f"speed-up: {once / per_batch:.2f}x", flush=True)
        runs.append({"classes": n_classes, "once_images_per_s": once, "per_batch_images_per_s": per_batch,
                     "speedup": once / per_batch})
        del learner, images
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device.type, "shape": shape, "batch_size": args.batch_size, "batches": args.batches,
                       "torch": torch.__version__, "runs": runs}, f, indent=1)
    return runs


if __name__ == "__main__":
    main()
