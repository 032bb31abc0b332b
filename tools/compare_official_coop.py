"""Same seed, same run: the official CoOp code (on Dassl) and this project's CoOp, side by side, on the same generated
Caltech101 folder and the same random CLIP of the real architecture. Compares every logged iteration (loss, accuracy,
learning rate), the learned context after the last epoch (bit for bit) and the test accuracy. Outside the tests: it
needs the official sources, e.g. from ``git clone`` of KaiyangZhou/CoOp and KaiyangZhou/Dassl.pytorch.

    python tools/compare_official_coop.py --coop ~/src/CoOp --dassl ~/src/Dassl.pytorch --seeds 1 2 3 --workers 0 2

The official trees are copied to a scratch folder and run unmodified except for what current torch and an offline
machine need: Dassl's warm-up scheduler no longer passes ``verbose`` to torch's scheduler (a TypeError on current
torch), ``wilds`` (imported by Dassl's domain-generalisation datasets, unused here) is an empty module, and CoOp's
``clip._download`` returns the local random weights file instead of downloading. ``--official-python`` must have
Dassl's imports (scikit-learn, tensorboard, pandas). Exit status 1 when any run differs beyond float noise (``--tolerance``).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ITERATION = re.compile(r"^epoch \[(\d+)/\d+\] batch \[(\d+)/\d+\] .*? loss ([\d.]+) \([\d.]+\) acc ([\d.]+) \([\d.]+\) "
                       r"lr ([\d.e+-]+)")
ACCURACY = re.compile(r"^\* accuracy: ([\d.]+)%")
WRAPPER = '''import os, runpy, sys, types
wilds = types.ModuleType("wilds"); wilds.get_dataset = None; sys.modules["wilds"] = wilds
sys.path[:0] = [{coop!r}, {dassl!r}]
os.chdir({coop!r})
from clip import clip
clip._download = lambda url, root=None: {weights!r}
sys.argv = ["train.py", *sys.argv[1:]]
runpy.run_path("train.py", run_name="__main__")
'''


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--coop", required=True, help="the official CoOp checkout")
    p.add_argument("--dassl", required=True, help="the official Dassl.pytorch checkout")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--workers", type=int, nargs="+", default=[0], help="DATALOADER.NUM_WORKERS values to run")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--shots", type=int, default=8)
    p.add_argument("--official-python", default=sys.executable)
    p.add_argument("--ours-opts", nargs="*", default=[], help="extra config options for our side only (KEY VALUE ...), "
                   "e.g. MODEL.FULL_TEXT_CONTEXT True")
    p.add_argument("--tolerance", type=float, default=1e-6, help="largest context difference still called float "
                   "noise (the logged values must be identical)")
    p.add_argument("--work", default=None, help="scratch folder (default: a new temporary one)")
    return p.parse_args(argv)


def prepare(work, args):
    """Scratch copies of the official trees (with the three offline/current-torch fixes), weights, data."""
    import torch
    from clip.model import CLIP

    from dpl.testing.fake_datasets import make_fake_dataset

    coop, dassl = os.path.join(work, "CoOp"), os.path.join(work, "Dassl")
    for src, dst in ((args.coop, coop), (args.dassl, dassl)):
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".git", "output"))
    scheduler = os.path.join(dassl, "dassl", "optim", "lr_scheduler.py")
    text = open(scheduler).read()
    old = "super().__init__(optimizer, last_epoch, verbose)"
    if old not in text:
        sys.exit(f"{scheduler}: expected the line {old!r} (a Dassl version this script does not know)")
    open(scheduler, "w").write(text.replace(old, "super().__init__(optimizer, last_epoch)"))
    weights = os.path.join(work, "ViT-B-16.pt")
    torch.manual_seed(0)  # a small CLIP of the real architecture (build_model infers the shapes from the file)
    model = CLIP(embed_dim=64, image_resolution=64, vision_layers=3, vision_width=128, vision_patch_size=16,
                 context_length=77, vocab_size=49408, transformer_width=128, transformer_heads=2, transformer_layers=3)
    torch.save(model.state_dict(), weights)
    wrapper = os.path.join(work, "run_official.py")
    open(wrapper, "w").write(WRAPPER.format(coop=coop, dassl=dassl, weights=weights))
    return wrapper, weights


def run(cmd, cwd, env, log):
    with open(log, "w") as f:
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT)
    text = open(log).read()
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed (exit {done.returncode}); its log: {log}\n{text[-3000:]}")
    return text


def summary(text):
    iterations = [m.groups() for m in map(ITERATION.match, text.splitlines()) if m]
    accuracy = [m.group(1) for m in map(ACCURACY.match, text.splitlines()) if m]
    return iterations, accuracy


def learned_context(out_dir, epochs):
    from dpl.engine.utils.dassl_compat import read_checkpoint

    return read_checkpoint(os.path.join(out_dir, "prompt_learner", f"model.pth.tar-{epochs}"))["state_dict"]["ctx"]


def compare(work, wrapper, weights, seed, workers, args):
    import torch

    opts = ["TRAINER.COOP.N_CTX", "16", "TRAINER.COOP.CSC", "False", "TRAINER.COOP.CLASS_TOKEN_POSITION", "end",
            "DATASET.NUM_SHOTS", str(args.shots), "OPTIM.MAX_EPOCH", str(args.epochs), "TRAIN.PRINT_FREQ", "1",
            "INPUT.SIZE", "(64, 64)", "TRAINER.COOP.PREC", "fp32", "DATALOADER.NUM_WORKERS", str(workers)]
    common = ["--seed", str(seed), "--trainer", "CoOp", "--dataset-config-file", "configs/datasets/caltech101.yaml",
              "--config-file", "configs/trainers/CoOp/vit_b16_ep50.yaml"]
    results = {}
    for side in ("official", "ours"):
        from dpl.testing.fake_datasets import make_fake_dataset

        tag = f"{side}_seed{seed}_workers{workers}"
        data, out = os.path.join(work, f"data_{tag}"), os.path.join(work, f"out_{tag}")
        make_fake_dataset("Caltech101", data, n_classes=10, per_split=(10, 3, 4))  # the same files on both sides
        if side == "official":
            cmd = [args.official_python, wrapper, "--root", data, "--output-dir", out, *common, *opts]
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            text = run(cmd, work, env, os.path.join(work, f"{tag}.log"))
        else:
            cmd = [sys.executable, "train.py", "--root", data, "--output-dir", out, *common, *opts,
                   "MODEL.BACKBONE.PATH", weights, *args.ours_opts]
            text = run(cmd, REPO, dict(os.environ, PYTHONPATH=REPO), os.path.join(work, f"{tag}.log"))
        results[side] = (*summary(text), learned_context(out, args.epochs))
    (it_o, acc_o, ctx_o), (it_u, acc_u, ctx_u) = results["official"], results["ours"]
    same_log = it_o == it_u and len(it_o) > 0
    same_ctx = torch.equal(ctx_o, ctx_u)
    gap = (ctx_o.double() - ctx_u.double()).abs().max().item()
    ok = same_log and gap <= args.tolerance and acc_o == acc_u
    context = "bit-identical" if same_ctx else f"equal to float noise (max {gap:.3g})" if gap <= args.tolerance else \
        f"DIFFERS (max {gap:.3g})"
    print(f"seed {seed}, NUM_WORKERS {workers}: {len(it_o)} iterations; logged loss/acc/lr "
          f"{'identical' if same_log else 'DIFFER'}; context after epoch {args.epochs} {context}; test accuracy "
          f"official {acc_o} ours {acc_u}{'' if ok else '  <-- DIFFERENT'}", flush=True)
    if not same_log:
        for a, b in zip(it_o, it_u):
            if a != b:
                print(f"  first differing iteration: official {a} ours {b}")
                break
    return ok


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, REPO)
    work = args.work or tempfile.mkdtemp(prefix="compare-coop-")
    os.makedirs(work, exist_ok=True)
    wrapper, weights = prepare(work, args)
    ok = all([compare(work, wrapper, weights, seed, workers, args) for workers in args.workers for seed in args.seeds])
    print(f"logs and outputs: {work}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
