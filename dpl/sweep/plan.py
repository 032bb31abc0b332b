"""A protocol sweep as jobs with dependencies (search -> train -> test), each job one ``scripts/dpl/step.sh`` call.

The folders, the finished state and the commands come from the shell scripts themselves (``step.sh --plan``), so a
sweep and ``bash scripts/dpl/main.sh`` see each other's finished work and can never disagree on where a run lives.
A job is identified by its run folder: the search of a (dataset, shots, seed) is one job whatever the trainers.
"""
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dpl.errors import ConfigError
from dpl.run_identity import OtherRunError

REPO = Path(__file__).resolve().parents[2]
STEP_SCRIPT = REPO / "scripts" / "dpl" / "step.sh"
PROTOCOLS = ("fewshot", "base2new", "xd")


@dataclass
class Job:
    step: str  # search | train | test
    protocol: str
    dataset: str
    shots: int
    seed: int
    trainer: str
    run_dir: str
    env: dict
    deps: list = field(default_factory=list)  # run_dirs of the jobs this one waits for
    argv: list = field(default_factory=list)  # its train.py arguments
    conflict: str = ""  # why it cannot run: its folder holds another configuration's run

    @property
    def key(self):
        return self.run_dir

    @property
    def command(self):
        return ["bash", str(STEP_SCRIPT), self.step, self.protocol, self.dataset, str(self.shots), str(self.seed)]

    @property
    def label(self):
        who = "DPLSearch" if self.step == "search" else self.trainer
        return f"{self.protocol} {self.step} {self.dataset} {self.shots}-shot seed{self.seed} {who}"

    def marker(self):
        return os.path.join(self.run_dir, "layout.json" if self.step == "search" else "results.json")

    def is_finished(self):
        """Finished with this sweep's configuration (a folder holding another configuration's run never is)."""
        return not self.conflict and os.path.isfile(self.marker())


@dataclass
class Settings:
    """What every job of a sweep shares (the scripts' environment variables)."""
    data: str
    output: str
    backbone: str = "ViT-B/16"
    layout: str = ""  # "" = each trainer's default (searched for prompted trainers)
    opts: tuple = ()
    cfg: str = ""
    search_cfg: str = ""
    xd_source: str = "imagenet"
    python: str = sys.executable
    extra_env: dict = field(default_factory=dict)

    def env(self, trainer):
        env = {"DATA": self.data, "OUTPUT": self.output, "BACKBONE": self.backbone, "TRAINER": trainer,
               "PYTHON": self.python, "XD_SOURCE": self.xd_source, **self.extra_env}
        if self.opts:
            if len(self.opts) % 2:
                raise ConfigError(f"--opts must hold KEY VALUE pairs; got an odd number: {' '.join(self.opts)}")
            if any(" " in str(o) for o in self.opts):
                raise ConfigError("--opts values cannot contain spaces (the scripts split OPTS on whitespace)")
            env["OPTS"] = " ".join(map(str, self.opts))
        for key, value in (("LAYOUT", self.layout), ("CFG", self.cfg), ("SEARCH_CFG", self.search_cfg)):
            if value:
                env[key] = value
        return env


def script_env(env):
    """This process's environment without the scripts' per-run settings, then ``env`` (a job's settings)."""
    keep = {k: v for k, v in os.environ.items() if k not in ("TRAINER", "LAYOUT", "CFG", "SEARCH_CFG", "OPTS", "SEEDS")}
    return {**keep, **env}


def query_plan(protocol, dataset, shots, seeds, env):
    """``step.sh --plan`` for one trainer: [(seed, step, marker present, run_dir, train.py argv)]."""
    proc = subprocess.run(["bash", str(STEP_SCRIPT), "--plan", protocol, dataset, str(shots), *map(str, seeds)],
                          capture_output=True, text=True, env=script_env(env), cwd=REPO)
    if proc.returncode != 0:
        raise ConfigError(f"planning {protocol} {dataset} {shots}-shot for TRAINER={env['TRAINER']} failed: "
                          f"{(proc.stderr or proc.stdout).strip()}")
    rows = []
    for line in proc.stdout.splitlines():
        if line.startswith("step "):
            _, seed, step, state, run_dir = line.split(" ", 4)
            rows.append((int(seed), step, state == "finished", run_dir, []))
        elif line.startswith("arg ") and rows:
            rows[-1][4].append(line[4:])
    return rows


def finished_with_this_configuration(run_dir, argv):
    """What the scripts decide before running a step (``dpl.run_identity``): True when ``run_dir`` holds a finished
    run of exactly ``argv``'s configuration; OtherRunError when it holds another configuration's."""
    from dpl.config import setup_cfg
    from dpl.run_identity import finished

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from train import parse_args

    args = parse_args(argv)
    return finished(run_dir, setup_cfg(args), args.eval_only, args.model_dir, args.load_epoch)


def expand(protocol, datasets, shots, seeds, trainers, settings):
    """Every job of the sweep in an order where dependencies come first (ZeroshotCLIP has no training: its
    "train" job is its evaluation)."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"--protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    jobs = {}
    for trainer in trainers:
        env = settings.env(trainer)
        for dataset in datasets:
            for k in shots:
                previous = {}
                for seed, step, marker, run_dir, argv in query_plan(protocol, dataset, k, seeds, env):
                    deps = [previous[seed]] if seed in previous else []
                    previous[seed] = run_dir
                    if run_dir in jobs:
                        continue
                    job = Job(step, protocol, dataset, k, seed, trainer, run_dir, env, deps, argv)
                    if marker:  # a finished run: of this configuration, or another's (refused)
                        try:
                            finished_with_this_configuration(run_dir, argv)
                        except OtherRunError as e:
                            job.conflict = str(e)
                    jobs[run_dir] = job
    return list(jobs.values())


def experiment_dirs(jobs):
    """The folders holding seed*/ runs whose results make the table (train runs of fewshot / xd source, tests)."""
    wanted = {"fewshot": "train", "base2new": "test", "xd": "test"}
    return sorted({os.path.dirname(j.run_dir) for j in jobs if j.step == wanted[j.protocol]})
