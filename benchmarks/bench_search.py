"""Speed and memory of one DPL search step: fused supernet (scores kept for the backward pass, or recomputed
there) vs the naive N+1-attention formula vs a fixed-layout prompted model, on a randomly initialised CLIP of
ViT-B/16's shapes (or --small ones), for every batch size and class count given.

A search step = alpha step (forward+backward on a val batch, Adam on the alphas) + prompt step (forward+backward
on a train batch, SGD on the prompts): two passes, so its per-pass cost is step / (2 x a fixed-layout train step).

    python benchmarks/bench_search.py --small                                   # quick, CPU
    python benchmarks/bench_search.py --device cuda --batch 4 32 --classes 100 1000 --json search.json

Timing: every variant in this process, after --warmup steps, mean of --repeats. Memory on CUDA: peak allocated
during the timed steps (absolute, and above what was allocated before them); a variant that runs out of memory
is reported as OOM. On CPU each variant runs one step in its own subprocess that samples its resident set
(/proc/self/statm) during the step and reports the peak (includes the model) and the increase during the step.
"""
import argparse
import gc
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
from dpl.prompting.supernet import constant

VITB16 = dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=16,
              transformer_width=512, transformer_heads=8, transformer_layers=12)
SMALL = dict(embed_dim=64, image_resolution=64, vision_layers=4, vision_width=128, vision_patch_size=16,
             transformer_width=64, transformer_heads=2, transformer_layers=4)
VARIANTS = ("fused", "recompute", "naive", "fixed")
LABELS = {"fused": "search step, fused supernet", "recompute": "search step, fused, scores recomputed in backward",
          "naive": "search step, naive formula", "fixed": "train step, fixed layout"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    p.add_argument("--small", action="store_true", help="small shapes for a quick run")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--batch", type=int, nargs="+", default=[4])
    p.add_argument("--classes", type=int, nargs="+", default=[100])
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--max-length", type=int, nargs="+", default=[6], help="N: candidate lengths 0..N (several: one "
                   "run each)")
    p.add_argument("--fixed-length", type=int, default=3, help="tokens per layer of the fixed-layout model")
    p.add_argument("--json", help="also write the results to this JSON file")
    for key in VITB16:
        p.add_argument("--" + key.replace("_", "-"), type=int, default=None)
    p.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # internal: one variant, memory only
    return p.parse_args(argv)


def build_model(args):
    shapes = dict(SMALL if args.small else VITB16)
    for key in shapes:
        if getattr(args, key) is not None:
            shapes[key] = getattr(args, key)
    torch.manual_seed(0)
    model = CLIP(context_length=77, vocab_size=49408, **shapes).float().to(args.device).requires_grad_(False)
    return PromptedCLIP(model), shapes


def build_inputs(pc, args, batch, n_classes):
    tokens = clip.tokenize([f"a photo of a class number {i}." for i in range(n_classes)]).to(args.device)
    with torch.no_grad():
        emb = pc.token_embedding(tokens)
    res = pc.input_resolution
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(batch, 3, res, res, generator=g).to(args.device),
                torch.randint(0, n_classes, (batch,), generator=g).to(args.device)) for _ in range(2)]
    return emb, tokens.argmax(-1), batches


def logits(pc, emb, eot, images, vision, text):
    img = F.normalize(pc.encode_image(images, vision), dim=-1)
    txt = F.normalize(pc.encode_text(emb, eot, text), dim=-1)
    return pc.logit_scale.exp() * img @ txt.t()


def make_step(variant, args, pc, emb, eot, batches, max_length=None):
    (val_x, val_y), (train_x, train_y) = batches
    if variant == "fixed":
        layout = PromptLayout.uniform(args.fixed_length, pc.vision_layers, pc.text_layers)
        prompts = LayerPrompts(layout, pc.vision_width, pc.text_width, kind="kv").to(args.device)
        opt = torch.optim.SGD(prompts.parameters(), lr=3.5e-3, foreach=True)

        def step():
            loss = F.cross_entropy(logits(pc, emb, eot, train_x, prompts.vision_prompts(), prompts.text_prompts()),
                                   train_y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step

    naive, recompute = variant == "naive", variant == "recompute"
    n = max_length or args.max_length[0]
    space = SearchSpace(pc.vision_layers, pc.text_layers, pc.vision_width, pc.text_width, n).to(args.device)
    arch = Architecture(pc.vision_layers, pc.text_layers, n).to(args.device)
    opt_a = torch.optim.Adam(arch.parameters(), lr=3.5e-3, betas=(0.5, 0.999), foreach=True)
    opt_p = torch.optim.SGD(space.parameters(), lr=3.5e-3, foreach=True)

    def one(x, y, opt, fixed):
        with constant(fixed):  # as DPLSearch: each pass differentiates only what its step updates
            vision = supernet_prompts(space, arch, "vision", naive, recompute)
            text = supernet_prompts(space, arch, "text", naive, recompute)
            loss = F.cross_entropy(logits(pc, emb, eot, x, vision, text), y)
        opt_a.zero_grad()
        opt_p.zero_grad()
        loss.backward()
        opt.step()

    def step():
        one(val_x, val_y, opt_a, space)
        one(train_x, train_y, opt_p, arch)
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
    pc, _ = build_model(args)
    emb, eot, batches = build_inputs(pc, args, args.batch[0], args.classes[0])
    step = make_step(args.variant, args, pc, emb, eot, batches, args.max_length[0])
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
    print(json.dumps({"peak_mb": max(peak[0], current_rss_mb()), "step_mb": max(peak[0], current_rss_mb()) - base}))


def cpu_memory(variant, argv, batch, n_classes, max_length):
    keep = [a for a in argv if a != "--variant"]
    out = subprocess.run([sys.executable, __file__, *keep, "--variant", variant, "--device", "cpu",
                          "--batch", str(batch), "--classes", str(n_classes), "--max-length", str(max_length)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(variant, args, argv, pc, emb, eot, batches, batch, n_classes, max_length):
    """{"ms": per step, "peak_mb", "step_mb"} of one variant, or {"oom": True}."""
    step = None
    try:
        step = make_step(variant, args, pc, emb, eot, batches, max_length)
        if args.device == "cuda":
            for _ in range(args.warmup):
                step()
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            ms = time_ms(step, argparse.Namespace(**{**vars(args), "warmup": 0}))
            peak = torch.cuda.max_memory_allocated()
            return {"ms": ms, "peak_mb": peak / 2**20, "step_mb": (peak - base) / 2**20}
        ms = time_ms(step, args)
        return {"ms": ms, **cpu_memory(variant, argv, batch, n_classes, max_length)}
    except torch.cuda.OutOfMemoryError:
        return {"oom": True}
    finally:
        del step
        gc.collect()
        if args.device == "cuda":
            torch.cuda.empty_cache()


def ratios(r):
    """The comparisons the benchmark exists for, where both sides ran."""
    out = {}

    def ok(*names):
        return all(n in r and not r[n].get("oom") for n in names)
    for fused in ("fused", "recompute"):
        if ok(fused, "naive"):
            out[f"{fused}/naive time"] = r[fused]["ms"] / r["naive"]["ms"]
            out[f"{fused}/naive memory"] = r[fused]["step_mb"] / r["naive"]["step_mb"]
        if ok(fused, "fixed"):
            out[f"{fused} per pass / fixed"] = r[fused]["ms"] / (2 * r["fixed"]["ms"])
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.variant:
        return memory_child(args)
    torch.set_grad_enabled(True)
    pc, shapes = build_model(args)
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"device {args.device} ({device_name}), torch {torch.__version__}, threads {torch.get_num_threads()}; "
          f"shapes {shapes}; fixed {args.fixed_length} tokens/layer, repeats {args.repeats}")
    runs = []
    for n, batch, n_classes in [(n, b, c) for n in args.max_length for b in args.batch for c in args.classes]:
        emb, eot, batches = build_inputs(pc, args, batch, n_classes)
        results = {}
        print(f"--- N {n}, batch {batch}, {n_classes} classes")
        for variant in args.variants:
            r = results[variant] = measure(variant, args, argv, pc, emb, eot, batches, batch, n_classes, n)
            if r.get("oom"):
                print(f"{variant:>9}: out of memory ({LABELS[variant]})")
            else:
                print(f"{variant:>9}: {r['ms']:9.1f} ms/step  ({LABELS[variant]}); memory: peak "
                      f"{r['peak_mb']:.0f} MiB, +{r['step_mb']:.0f} MiB during the step", flush=True)
        rat = ratios(results)
        for name, value in rat.items():
            print(f"{name:>28} = {value:.2f}")
        runs.append({"max_length": n, "batch": batch, "classes": n_classes, "results": results, "ratios": rat})
        del emb, eot, batches
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": args.device, "device_name": device_name, "torch": torch.__version__,
                       "shapes": shapes, "fixed_length": args.fixed_length,
                       "repeats": args.repeats, "runs": runs}, f, indent=1)
    return runs


if __name__ == "__main__":
    main()
