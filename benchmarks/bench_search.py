"""Speed and memory of one DPL search step: fused supernet vs the naive N+1-attention formula vs a fixed-layout
prompted model, on a randomly initialised CLIP of ViT-B/16's shapes (or --small ones).

A search step = alpha step (forward+backward on a val batch, Adam on the alphas) + prompt step (forward+backward
on a train batch, SGD on the prompts): two passes, so compare it with 2x a fixed-layout train step too.

    python benchmarks/bench_search.py --small            # quick
    python benchmarks/bench_search.py --device cuda      # ViT-B/16 shapes

Timing: all variants in this process. Peak memory: torch.cuda.max_memory_allocated on CUDA; on CPU each variant
runs one step in its own subprocess that samples its resident set (/proc/self/statm) during the step and reports
the peak (includes the model) and the increase over the RSS before the step.
"""
import argparse
import json
import resource
import subprocess
import sys
import threading
import time

import clip
import torch
import torch.nn.functional as F
from clip.model import CLIP

from dpl.prompting import Architecture, LayerPrompts, PromptedCLIP, PromptLayout, SearchSpace, supernet_prompts

VITB16 = dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=16,
              transformer_width=512, transformer_heads=8, transformer_layers=12)
SMALL = dict(embed_dim=64, image_resolution=64, vision_layers=4, vision_width=128, vision_patch_size=16,
             transformer_width=64, transformer_heads=2, transformer_layers=4)
VARIANTS = ("fused", "naive", "fixed")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    p.add_argument("--small", action="store_true", help="small shapes for a quick run")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--classes", type=int, default=100)
    p.add_argument("--max-length", type=int, default=6, help="N: candidate lengths 0..N")
    p.add_argument("--fixed-length", type=int, default=3, help="tokens per layer of the fixed-layout model")
    for key in VITB16:
        p.add_argument("--" + key.replace("_", "-"), type=int, default=None)
    p.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # internal: one variant, memory only
    return p.parse_args(argv)


def build(args):
    shapes = dict(SMALL if args.small else VITB16)
    for key in shapes:
        if getattr(args, key) is not None:
            shapes[key] = getattr(args, key)
    torch.manual_seed(0)
    model = CLIP(context_length=77, vocab_size=49408, **shapes).float().to(args.device).requires_grad_(False)
    pc = PromptedCLIP(model)
    tokens = clip.tokenize([f"a photo of a class number {i}." for i in range(args.classes)]).to(args.device)
    with torch.no_grad():
        emb = model.token_embedding(tokens)
    res = pc.input_resolution
    batches = [(torch.randn(args.batch, 3, res, res, device=args.device),
                torch.randint(0, args.classes, (args.batch,), device=args.device)) for _ in range(2)]
    return pc, emb, tokens.argmax(-1), batches, shapes


def logits(pc, emb, eot, images, vision, text):
    img = F.normalize(pc.encode_image(images, vision), dim=-1)
    txt = F.normalize(pc.encode_text(emb, eot, text), dim=-1)
    return pc.logit_scale.exp() * img @ txt.t()


def make_step(variant, args, pc, emb, eot, batches):
    (val_x, val_y), (train_x, train_y) = batches
    if variant == "fixed":
        layout = PromptLayout.uniform(args.fixed_length, pc.vision_layers, pc.text_layers)
        prompts = LayerPrompts(layout, pc.vision_width, pc.text_width, kind="kv").to(args.device)
        opt = torch.optim.SGD(prompts.parameters(), lr=3.5e-3)

        def step():
            loss = F.cross_entropy(logits(pc, emb, eot, train_x, prompts.vision_prompts(), prompts.text_prompts()),
                                   train_y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step

    naive = variant == "naive"
    space = SearchSpace(pc.vision_layers, pc.text_layers, pc.vision_width, pc.text_width, args.max_length).to(args.device)
    arch = Architecture(pc.vision_layers, pc.text_layers, args.max_length).to(args.device)
    opt_a = torch.optim.Adam(arch.parameters(), lr=3.5e-3, betas=(0.5, 0.999))
    opt_p = torch.optim.SGD(space.parameters(), lr=3.5e-3)

    def one(x, y, opt):
        loss = F.cross_entropy(logits(pc, emb, eot, x, supernet_prompts(space, arch, "vision", naive),
                                      supernet_prompts(space, arch, "text", naive)), y)
        opt_a.zero_grad()
        opt_p.zero_grad()
        loss.backward()
        opt.step()

    def step():
        one(val_x, val_y, opt_a)
        one(train_x, train_y, opt_p)
    return step


def sync(args):
    if args.device == "cuda":
        torch.cuda.synchronize()


def time_ms(step, args):
    for _ in range(args.warmup):
        step()
    sync(args)
    t = time.perf_counter()
    for _ in range(args.repeats):
        step()
    sync(args)
    return (time.perf_counter() - t) * 1000 / args.repeats


def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def memory_child(args):
    """One variant, one step, in this (fresh) process: print as JSON the peak RSS during the step (sampled every
    2 ms; ru_maxrss cannot be reset and its peak is set while building the model) and the RSS before it."""
    pc, emb, eot, batches, _ = build(args)
    step = make_step(args.variant, args, pc, emb, eot, batches)
    base = current_rss_mb()
    peak, done = [base], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], current_rss_mb())
            time.sleep(0.002)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    step()
    done.set()
    sampler.join()
    print(json.dumps({"peak_rss_mb": max(peak[0], current_rss_mb()), "base_rss_mb": base}))


def cpu_memory(variant, argv):
    out = subprocess.run([sys.executable, __file__, *argv, "--variant", variant, "--device", "cpu"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.variant:
        return memory_child(args)
    torch.set_grad_enabled(True)
    pc, emb, eot, batches, shapes = build(args)
    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}; shapes {shapes}; "
          f"batch {args.batch}, classes {args.classes}, N {args.max_length}, fixed {args.fixed_length} tokens/layer, "
          f"repeats {args.repeats}")
    ms, mem = {}, {}
    for variant in VARIANTS:
        step = make_step(variant, args, pc, emb, eot, batches)
        if args.device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        ms[variant] = time_ms(step, args)
        if args.device == "cuda":
            mem[variant] = f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB peak allocated (CUDA)"
        else:
            m = cpu_memory(variant, [a for a in argv if a != "--variant"])
            mem[variant] = (f"{m['peak_rss_mb']:.0f} MiB peak RSS, +{m['peak_rss_mb'] - m['base_rss_mb']:.0f} MiB "
                            "during the step (own subprocess, sampled RSS)")
        del step
        label = {"fused": "search step, fused supernet", "naive": "search step, naive formula",
                 "fixed": "train step, fixed layout"}[variant]
        print(f"{variant:>5}: {ms[variant]:9.1f} ms/step  ({label}); memory: {mem[variant]}")
    print(f"fused/naive   = {ms['fused'] / ms['naive']:.2f}")
    print(f"fused/fixed   = {ms['fused'] / ms['fixed']:.2f}")
    print(f"fused/(2x fixed) = {ms['fused'] / (2 * ms['fixed']):.2f}  (a search step does two passes)")


if __name__ == "__main__":
    main()
