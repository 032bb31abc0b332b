"""The text tower over the positions up to the batch's last end-of-text token (the default) vs CLIP's whole context
(``MODEL.FULL_TEXT_CONTEXT True``): forward + backward over all class prompts, on a randomly initialised CLIP of
ViT-B/16's text shapes (or --small ones), ImageNet's first C class names.

Cases (``--cases``):
- ``stock``: "a photo of a {class}.", no prompts, gradients to the input embeddings (the bare text transformer)
- ``coop``: 16 learned context tokens at the input ("X .. X {class}."), gradients to the context (CoOp)
- ``dpl``: DPL's train stage: the official 60-template ensemble input, --fixed-length key/value tokens per layer,
  gradients to the prompts
- ``dpl_search``: DPL's search: the same input, the fused supernet over candidates 0..N per layer, gradients to
  the alphas and every candidate

Short and full alternate rep by rep in this one process (a shared CPU's load hits both alike); each time is the
median of --repeats after one warm-up of each.

    python benchmarks/bench_text.py --small                                       # seconds
    python benchmarks/bench_text.py --classes 10 100 1000 --cases stock --text-layers 2
    python benchmarks/bench_text.py --classes 100 --cases coop dpl dpl_search
"""
import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from clip.model import CLIP

from dpl.method.dpl_text import class_text_input
from dpl.prompting import Architecture, LayerPrompts, PromptedCLIP, PromptLayout, SearchSpace, supernet_prompts
from dpl.method.text import class_prompt_inputs
from dpl.method.text_context import TextContext

VITB16 = dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=16,
              transformer_width=512, transformer_heads=8, transformer_layers=12)
SMALL = dict(embed_dim=64, image_resolution=32, vision_layers=1, vision_width=64, vision_patch_size=16,
             transformer_width=64, transformer_heads=2, transformer_layers=4)
CASES = ("stock", "coop", "dpl", "dpl_search")
CLASSNAMES = Path(__file__).resolve().parents[1] / "dpl" / "resources" / "imagenet_classnames.txt"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="small shapes for a quick run")
    p.add_argument("--classes", type=int, nargs="+", default=[10, 100, 1000])
    p.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    p.add_argument("--repeats", type=int, default=3, help="timed reps of each of short and full")
    p.add_argument("--repeats-large", type=int, default=1, help="reps at --large-from classes or more")
    p.add_argument("--large-from", type=int, default=1000)
    p.add_argument("--text-layers", type=int, default=None, help="text transformer depth (default: the shapes')")
    p.add_argument("--fixed-length", type=int, default=3, help="DPL train stage: key/value tokens per layer")
    p.add_argument("--max-length", type=int, default=6, help="DPL search: candidate lengths 0..N")
    p.add_argument("--coop-ctx", type=int, default=16, help="CoOp: learned context tokens")
    p.add_argument("--threads", type=int, default=None)
    return p.parse_args(argv)


def build_models(args):
    """(short, full) PromptedCLIPs over one random model: the same weights, only the switch differs."""
    shapes = dict(SMALL if args.small else VITB16)
    if args.text_layers is not None:
        shapes["transformer_layers"] = args.text_layers
    torch.manual_seed(0)
    model = CLIP(context_length=77, vocab_size=49408, **shapes).float().requires_grad_(False)
    return PromptedCLIP(model), PromptedCLIP(model, full_text_context=True), shapes


def classnames(n):
    names = [line.split(" ", 1)[1].strip() for line in CLASSNAMES.read_text().splitlines() if line.strip()]
    if n > len(names):
        raise SystemExit(f"--classes {n}: {CLASSNAMES} has {len(names)} class names")
    return names[:n]


def make_case(case, pc, names, args):
    """``run(model)``: one forward + backward of ``case`` through ``model``; and the largest EOT position."""
    g = torch.Generator().manual_seed(1)
    if case == "stock":
        emb, eot, _ = class_prompt_inputs(pc, names, "a photo of a {}.")
        emb = emb.clone().requires_grad_(True)
        params, text = [emb], (lambda: None)
    elif case == "coop":
        context = TextContext(pc, names, n_ctx=args.coop_ctx)
        eot, params, text = context.eot_index, [context.ctx], (lambda: None)
    else:
        emb, eot = class_text_input(pc, names, "ensemble")
        if case == "dpl":
            layout = PromptLayout.uniform(args.fixed_length, pc.vision_layers, pc.text_layers)
            prompts = LayerPrompts(layout, pc.vision_width, pc.text_width, kind="kv")
            params, text = list(prompts.parameters()), prompts.text_prompts
        else:
            space = SearchSpace(pc.vision_layers, pc.text_layers, pc.vision_width, pc.text_width, args.max_length)
            arch = Architecture(pc.vision_layers, pc.text_layers, args.max_length)
            params = [arch.text, *space.text.values()]
            text = (lambda: supernet_prompts(space, arch, "text"))
    probe = torch.randn(len(names), pc.embed_dim, generator=g)

    def run(model):
        inputs = context.embeddings() if case == "coop" else emb
        features = F.normalize(model.encode_text(inputs, eot, text()), dim=-1)
        return torch.autograd.grad((features * probe).sum(), params, allow_unused=True)  # vision prompts: unused
    return run, int(eot.max())


def time_pair(run, short, full, repeats):
    run(short), run(full)  # warm-up
    times = {"short": [], "full": []}
    for _ in range(repeats):
        for name, model in (("short", short), ("full", full)):
            t = time.perf_counter()
            run(model)
            times[name].append((time.perf_counter() - t) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    short, full, shapes = build_models(args)
    print(f"cpu, torch {torch.__version__}, threads {torch.get_num_threads()}; text width "
          f"{shapes['transformer_width']}, {shapes['transformer_layers']} layers, {shapes['transformer_heads']} heads; "
          f"forward + backward over all classes; median of the reps")
    print("| case | classes | positions (short / full) | short ms | full ms | full / short |")
    print("|---|---|---|---|---|---|")
    rows = []
    for n in args.classes:
        names = classnames(n)
        for case in args.cases:
            run, last = make_case(case, short, names, args)
            reps = args.repeats_large if n >= args.large_from else args.repeats
            t = time_pair(run, short, full, reps)
            ratio = t["full"] / t["short"]
            rows.append({"case": case, "classes": n, "positions": last + 1, **t, "ratio": ratio, "repeats": reps})
            print(f"| {case} | {n} | {last + 1} / {full.context_length} | {t['short']:.1f} | {t['full']:.1f} | "
                  f"**{ratio:.2f}x** |", flush=True)
    return rows


if __name__ == "__main__":
    main()
