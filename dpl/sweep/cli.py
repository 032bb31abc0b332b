"""python -m dpl.sweep: a protocol sweep (datasets x shots x seeds x trainers) on submitit, locally or on SLURM.

    python -m dpl.sweep --protocol fewshot --datasets caltech101 dtd --shots 1 2 4 8 16 --seeds 1 2 3 \\
        --trainers DPL MaPLe --cluster local --data DATA --output OUTPUT
    python -m dpl.sweep ... --cluster slurm --slurm-partition gpu --timeout-min 720
    python -m dpl.sweep ... --status          # done / running / failed / pending, and the tables so far
    python -m dpl.sweep --status --name NAME --output OUTPUT   # the same for a sweep started before (its name is
                                                              # printed when it starts; its arguments are remembered)

Each job is one step of one seed (search, train, test) run by python -m dpl.protocol step, the planner of the
protocol scripts, so finished work of the shell scripts is reused and the other way round. Killing the runner and
starting it again with the same arguments finishes the sweep without running a finished job again, nor a second copy
of a job it had started; a second runner on the same sweep is refused while the first one runs.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

from dpl.errors import ConfigError, DPLError
from dpl.file_io import read_json, write_json

from .plan import PROTOCOLS, REPO, Settings, expand, experiment_dirs
from .runner import SweepState, counts, failure, run_local, run_slurm


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", choices=PROTOCOLS, default="fewshot")
    p.add_argument("--datasets", nargs="+", help="dataset config names (configs/datasets/<name>.yaml); required unless "
                   "--name names a sweep started before (its arguments are remembered)")
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
    p.add_argument("--jobs-per-gpu", type=int, default=1, metavar="K",
                   help="local: run K jobs at once on each GPU (group), each with cores / (jobs at once) threads")
    p.add_argument("--max-parallel", type=int, help="local without GPUs: jobs at a time (default: 1)")
    p.add_argument("--threads-per-job", type=int, help="local CPU jobs: intra-op threads each (default: cores / jobs)")
    p.add_argument("--slurm-partition", default="")
    p.add_argument("--timeout-min", type=int, default=24 * 60, help="time limit of one job")
    p.add_argument("--cpus-per-job", type=int, default=8, help="SLURM: CPUs per job (data loading workers)")
    p.add_argument("--name", help="name of the sweep's state folder (default: derived from the arguments); with --name "
                   "alone (and --output when not the default) a sweep started before is found with its arguments")
    p.add_argument("--status", action="store_true", help="print progress and the tables so far; run nothing")
    return p


DEFINING = ("protocol", "datasets", "shots", "seeds", "trainers", "layout", "backbone", "opts", "cfg", "search_cfg",
            "xd_source")
ARGS_FILE = "args.json"  # a sweep's own arguments, in its state folder
REMEMBERED = (*DEFINING, "data", "caller")


def sweep_name(args):
    defining = {k: getattr(args, k) for k in DEFINING}
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
            print(f"  failed: {job.label}: {failure(entry)}")
    return c


def remembered(args, parser):
    """``args`` with the defining arguments of the sweep ``--name`` started before, when --datasets is not given."""
    if args.datasets:
        return args
    if not args.name:
        parser.error("--datasets is required (or --name NAME of a sweep started before: its arguments are remembered)")
    folder = os.path.join(args.output, ".sweeps", args.name)
    path = os.path.join(folder, ARGS_FILE)
    if not os.path.isfile(path):
        known = sorted(os.listdir(os.path.dirname(folder))) if os.path.isdir(os.path.dirname(folder)) else []
        raise ConfigError(f"no sweep named {args.name!r} was started with --output {args.output} ({path} does not "
                          f"exist; sweeps there: {', '.join(known) or 'none'}); give the sweep's arguments, or its "
                          "--output")
    for key, value in read_json(path).items():
        if key in REMEMBERED:
            setattr(args, key, value)
    return args


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.data, args.output = os.path.abspath(args.data), os.path.abspath(args.output)
    args.caller = os.getcwd()  # a relative --layout file is relative to where the sweep was started
    if args.jobs_per_gpu < 1 or (args.cluster == "slurm" and args.jobs_per_gpu != 1):
        print(f"Error: --jobs-per-gpu {args.jobs_per_gpu}: expected a whole number >= 1, and 1 on SLURM (each SLURM job "
              "is its own allocation there; pack jobs with the local runner inside one allocation instead)",
              file=sys.stderr)
        return 2
    try:
        args = remembered(args, parser)
        settings = Settings(data=args.data, output=args.output, backbone=args.backbone, layout=args.layout,
                            opts=tuple(args.opts), cfg=args.cfg, search_cfg=args.search_cfg, xd_source=args.xd_source,
                            caller=args.caller)
        jobs = expand(args.protocol, args.datasets, args.shots, args.seeds, args.trainers, settings)
        state = SweepState(os.path.join(args.output, ".sweeps", args.name or sweep_name(args)))
        if args.status:
            report(args, jobs, state)
            return 0
        state.lock()
    except DPLError as e:
        print(f"Error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    write_json({k: getattr(args, k) for k in REMEMBERED}, os.path.join(state.folder, ARGS_FILE), indent=1)
    name = os.path.basename(state.folder)
    print(f"[sweep] {len(jobs)} jobs ({sum(j.is_finished() for j in jobs)} finished before), state in {state.folder}; "
          f"follow it with: python -m dpl.sweep --status --name {name} --output {args.output}")
    if args.cluster == "slurm":
        run_slurm(jobs, state, partition=args.slurm_partition, timeout_min=args.timeout_min,
                  gpus_per_job=args.gpus_per_job, cpus_per_job=args.cpus_per_job)
        print(f"[sweep] submitted; follow it with: python -m dpl.sweep --status --name {name} --output {args.output}")
        report(args, jobs, state)
        return 0
    gpus = visible_gpus() if args.gpus is None else args.gpus
    if gpus and len(gpus) < args.gpus_per_job:
        print(f"Error: --gpus-per-job {args.gpus_per_job} but only GPUs {gpus} are visible", file=sys.stderr)
        return 2
    parallel = args.max_parallel or 1
    at_once = (len(gpus) // args.gpus_per_job) * args.jobs_per_gpu if gpus else parallel
    packed = gpus and args.jobs_per_gpu > 1  # packed GPU jobs share the CPU: give each its part of the cores
    threads = args.threads_per_job or (max(1, (os.cpu_count() or 1) // at_once) if packed or not gpus else None)
    failed = run_local(jobs, state, max_parallel=parallel, gpus=gpus, gpus_per_job=args.gpus_per_job,
                       threads=threads, timeout_min=args.timeout_min, jobs_per_gpu=args.jobs_per_gpu)
    c = report(args, jobs, state)
    return 1 if failed or c["failed"] else 0
