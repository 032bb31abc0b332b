"""A protocol sweep as jobs with dependencies (search -> train -> test), each job one step of one seed run by
``python -m dpl.protocol step`` (what scripts/dpl/step.sh runs).

Folders, train.py arguments and the skip / refuse decision come from the protocol planner (dpl/protocol), the one
the shell scripts use, so a sweep and ``bash scripts/dpl/main.sh`` see each other's finished work and can never
disagree on where a run lives. A job is identified by its run folder: the search of a (dataset, shots, seed) is one
job whatever the trainers.
"""
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dpl.errors import ConfigError
from dpl.protocol import PROTOCOLS, finished, plan_seed
from dpl.protocol import Settings as PlanSettings
from dpl.runs.run_identity import OtherRunError

REPO = Path(__file__).resolve().parents[2]


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
    target: str = ""  # the dataset named on the step's command line (xd: the test target)

    @property
    def key(self):
        return self.run_dir

    @property
    def command(self):
        return [sys.executable, "-m", "dpl.protocol", "step", self.step, self.protocol, self.target or self.dataset,
                str(self.shots), str(self.seed)]

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
    caller: str = field(default_factory=os.getcwd)  # a relative --layout file is relative to where the sweep began

    def env(self, trainer):
        env = {"DATA": self.data, "OUTPUT": self.output, "BACKBONE": self.backbone, "TRAINER": trainer,
               "PYTHON": self.python, "XD_SOURCE": self.xd_source, "DPL_CALLER_PWD": self.caller, **self.extra_env}
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
    keep = {k: v for k, v in os.environ.items()
            if k not in ("TRAINER", "LAYOUT", "CFG", "SEARCH_CFG", "OPTS", "SEEDS", "DRY_RUN")}
    return {**keep, **env}


def plan_settings(settings, trainer):
    """The planner's settings for one trainer's jobs, read from exactly the environment those jobs get."""
    return PlanSettings.from_env(script_env(settings.env(trainer)))


def expand(protocol, datasets, shots, seeds, trainers, settings):
    """Every job of the sweep in an order where dependencies come first (ZeroshotCLIP has no training: its
    "train" job is its evaluation)."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"--protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    jobs = {}
    for trainer in trainers:
        env = settings.env(trainer)
        planner = plan_settings(settings, trainer)
        for dataset in datasets:
            for k in shots:
                for seed in seeds:
                    for step in plan_seed(protocol, dataset, k, seed, planner).steps:
                        if step.run_dir in jobs:
                            continue
                        job = Job(step.name, protocol, step.dataset, k, seed, trainer, step.run_dir, env,
                                  [step.needs] if step.needs else [], step.args, target=dataset)
                        try:  # a finished run: of this configuration, or another's (refused)
                            finished(step, planner)
                        except OtherRunError as e:
                            job.conflict = str(e)
                        jobs[step.run_dir] = job
    return list(jobs.values())


def experiment_dirs(jobs):
    """The folders holding seed*/ runs whose results make the table (train runs of fewshot / xd source, tests)."""
    wanted = {"fewshot": "train", "base2new": "test", "xd": "test"}
    return sorted({os.path.dirname(j.run_dir) for j in jobs if j.step == wanted[j.protocol]})
