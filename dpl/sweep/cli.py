"""python -m dpl.sweep: a protocol sweep (datasets x shots x seeds x trainers) on submitit, locally or on SLURM.

    python -m dpl.sweep --protocol fewshot --datasets caltech101 dtd --shots 1 2 4 8 16 --seeds 1 2 3 \\
        --trainers DPL MaPLe --cluster local --data DATA --output OUTPUT
    python -m dpl.sweep ... --cluster slurm --slurm-partition gpu --timeout-min 720
    python -m dpl.sweep ... --status          # done / running / failed / pending, and the tables so far

Each job is one step of one seed (search, train, test) run by scripts/dpl/step.sh, so finished work of the shell
scripts is reused and the other way round. Killing the runner and starting it again with the same arguments
finishes the sweep without running a finished job again.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

from dpl.errors import DPLError

from .plan import PROTOCOLS, REPO, Settings, expand, experiment_dirs
from .runner import SweepState, counts, run_local, run_slurm


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", choices=PROTOCOLS, default="fewshot")
    p.add_argument("--datasets", nargs="+", required=True, help="dataset config names (configs/datasets/<name>.yaml)")
    p.add_argument("--shots", type=int, nargs="+", default=[16])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--trainers", nargs="+", default=["DPL"])
    p.add_argument("--layout", default="", help="searched | none | uniform:K[:DEPTH] | random:SEED | zero | a layout "
                   "file (default: each trainer's own default, as the scripts)")
    p.add_argument("--cluster", choices=("local", "slurm"), default="local")
    p.add_argument("--backbone", default="ViT-B/16")
    p.add_argument("--data", default=str(REPO / "data"))
    p.add_argument("--output", default=str(REPO / "output"))
    p.add_argument("--opts", nargs="+", default=[], metavar="KEY VALUE", help="config options for every run")
    p.add_argument("--cfg", default="", help="trainer config name (CFG of the scripts)")
    p.add_argument("--search-cfg", default="", help="search config name (SEARCH_CFG of the scripts)")
    p.add_argument("--xd-source", default="imagenet", help="cross-dataset: the source dataset")
    p.add_argument("--gpus-per-job", type=int, default=1)
    p.add_argument("--gpus", type=int, nargs="*", help="local: GPU ids to use (default: every visible GPU)")
    p.add_argument("--max-parallel", type=int, help="local without GPUs: jobs at a time (default: 1)")
    p.add_argument("--threads-per-job", type=int, help="local CPU jobs: intra-op threads each (default: cores / jobs)")
    p.add_argument("--slurm-partition", default="")
    p.add_argument("--timeout-min", type=int, default=24 * 60, help="time limit of one job")
    p.add_argument("--cpus-per-job", type=int, default=8, help="SLURM: CPUs per job (data loading workers)")
    p.add_argument("--name", help="name of the sweep's state folder (default: derived from the arguments)")
    p.add_argument("--status", action="store_true", help="print progress and the tables so far; run nothing")
    return p


def sweep_name(args):
    defining = {k: getattr(args, k) for k in ("protocol", "datasets", "shots", "seeds", "trainers", "layout",
                                              "backbone", "opts", "cfg", "search_cfg", "xd_source")}
    digest = hashlib.sha1(json.dumps(defining, sort_keys=True).encode()).hexdigest()[:10]
    return f"{args.protocol}-{digest}"


def visible_gpus():
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [int(g) for g in env.split(",") if g.strip().isdigit()]
    try:
        import torch

        return list(range(torch.cuda.device_count()))
    except ImportError:
        return []


def print_tables(args, jobs):
    """The tables parse_test_res.py prints, for what is finished so far."""
    cmd = [sys.executable, str(REPO / "parse_test_res.py")]
    # a refused job's folder holds another configuration's run: marked in the table, never shown as its number
    for job in jobs:
        if job.conflict:
            cmd += ["--refused", job.run_dir]
    if args.protocol == "base2new":
        root = os.path.join(args.output, "base2new")
        if os.path.isdir(os.path.join(root, "test_new")):
            subprocess.run([*cmd, "--base2new", root], cwd=REPO)
        return
    dirs = [d for d in experiment_dirs(jobs) if os.path.isdir(d)]
    if dirs:
        subprocess.run([*cmd, "--table", *dirs], cwd=REPO)


def report(args, jobs, state):
    c = counts(jobs, state)
    print_tables(args, jobs)
    print(f"jobs: {c['done']} done, {c['running']} running, {c['failed']} failed, {c['pending']} pending "
          f"(of {len(jobs)}; state in {state.folder})")
    for job in jobs:
        entry = state.jobs.get(job.key, {})
        if entry.get("status") == "failed" and not job.is_finished():
            print(f"  failed: {job.label}: {entry.get('log', '')}")
    return c


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.data, args.output = os.path.abspath(args.data), os.path.abspath(args.output)
    settings = Settings(data=args.data, output=args.output, backbone=args.backbone, layout=args.layout,
                        opts=tuple(args.opts), cfg=args.cfg, search_cfg=args.search_cfg, xd_source=args.xd_source)
    try:
        jobs = expand(args.protocol, args.datasets, args.shots, args.seeds, args.trainers, settings)
    except DPLError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    state = SweepState(os.path.join(args.output, ".sweeps", args.name or sweep_name(args)))
    if args.status:
        report(args, jobs, state)
        return 0
    print(f"[sweep] {len(jobs)} jobs ({sum(j.is_finished() for j in jobs)} finished before), state in {state.folder}")
    if args.cluster == "slurm":
        run_slurm(jobs, state, partition=args.slurm_partition, timeout_min=args.timeout_min,
                  gpus_per_job=args.gpus_per_job, cpus_per_job=args.cpus_per_job)
        print("[sweep] submitted; follow it with the same command and --status")
        report(args, jobs, state)
        return 0
    gpus = visible_gpus() if args.gpus is None else args.gpus
    if gpus and len(gpus) < args.gpus_per_job:
        print(f"Error: --gpus-per-job {args.gpus_per_job} but only GPUs {gpus} are visible", file=sys.stderr)
        return 2
    parallel = args.max_parallel or 1
    threads = args.threads_per_job or (None if gpus else max(1, (os.cpu_count() or 1) // parallel))
    failed = run_local(jobs, state, max_parallel=parallel, gpus=gpus, gpus_per_job=args.gpus_per_job,
                       threads=threads, timeout_min=args.timeout_min)
    c = report(args, jobs, state)
    return 1 if failed or c["failed"] else 0
