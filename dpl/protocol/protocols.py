"""The protocol scripts' commands (scripts/dpl/*.sh are wrappers around these): few-shot, base-to-new and
cross-dataset over seeds, one sweep step, the comparison table and the paper's sweep."""
import subprocess

from dpl.errors import DPLError

from . import configs
from .run import StepFailed, parse_results, run_step, say
from .settings import REPO, ProtocolError, check_number
from .steps import experiment_dir, plan_seed


def note_layout(plan, said=set()):
    if plan.layout.note and plan.layout.note not in said:
        said.add(plan.layout.note)
        say(plan.layout.note)


def main_protocol(dataset, shots, settings, dry_run=False):
    """Few-shot: per seed, the search (LAYOUT=searched), then TRAINER on its layout (the run tests itself);
    then the mean and 95% CI over seeds, and the searched layouts' agreement."""
    shots = check_number("SHOTS", shots)
    seeds = [check_number("SEEDS", seed, "numbers") for seed in settings.seeds]
    plans = [plan_seed("fewshot", dataset, shots, seed, settings) for seed in (seeds or (0,))]
    for plan in plans[:len(settings.seeds)]:
        note_layout(plan)
        for step in plan.steps:
            run_step(step, settings, plan, dry_run=dry_run)
    say("")
    last = plans[-1]
    parse_results(settings, experiment_dir(last.step("train")), "--ci95", dry_run=dry_run)
    if last.step("search"):
        parse_results(settings, "--layouts", experiment_dir(last.step("search")), dry_run=dry_run)
    return experiment_dir(last.step("train"))


def train_protocol(protocol, dataset, seed, shots, settings, dry_run=False):
    """base2new / xd step 1: the search (LAYOUT=searched), then TRAINER (base classes / XD_SOURCE)."""
    plan = plan_seed(protocol, dataset, check_number("SHOTS", shots), check_number("SEED", seed, "a number"), settings)
    note_layout(plan)
    for step in plan.steps:
        if step.name != "test":
            run_step(step, settings, plan, dry_run=dry_run)


def test_protocol(protocol, dataset, seed, shots, settings, first, dry_run=False):
    """base2new / xd step 2: evaluate the model step 1 trained (new classes / DATASET); ``first`` names step 1."""
    plan = plan_seed(protocol, dataset, check_number("SHOTS", shots), check_number("SEED", seed, "a number"), settings)
    note_layout(plan)
    run_step(plan.step("test"), settings, plan, first=first, dry_run=dry_run)


def one_step(name, protocol, dataset, shots, seed, settings, dry_run=False):
    """One step of one seed, as the protocol scripts run it (the sweep's unit of work)."""
    plan = plan_seed(protocol, dataset, check_number("SHOTS", shots), check_number("SEED", seed, "a number"), settings)
    step = plan.step(name)
    if name not in ("search", "train", "test"):
        raise ProtocolError(f"STEP '{name}': expected --plan, search, train or test")
    if step is None and name == "search":
        raise ProtocolError(f"TRAINER={settings.trainer} with LAYOUT={settings.layout or '<default>'} needs no search")
    if step is None:
        raise ProtocolError(f"the {protocol} protocol has no separate test step (its train run tests)")
    first = "the search step" if name == "train" else f"scripts/dpl/step.sh train {protocol} {dataset} {shots} {seed}"
    run_step(step, settings, plan, first=first, dry_run=dry_run)


def print_plan(protocol, dataset, shots, seeds, settings):
    """``step <seed> <step> <finished|todo> <folder>`` then ``arg <value>`` lines (the marker's presence only)."""
    import os

    check_number("SHOTS", shots)
    for seed in seeds:
        plan = plan_seed(protocol, dataset, int(shots), check_number("SEED", seed, "a number"), settings)
        for step in plan.steps:
            say(f"step {seed} {step.name} {'finished' if os.path.isfile(step.marker) else 'todo'} {step.run_dir}",
                *(f"arg {a}" for a in step.args))


def compare(trainers, datasets, shots, settings, dry_run=False):
    """Few-shot for every trainer x dataset (one failing cell does not stop the others), then one table."""
    import dataclasses
    import sys

    trainers, datasets = trainers.split(), datasets.split()
    if not trainers or not datasets:
        raise ProtocolError("give at least one trainer and one dataset")
    if len(trainers) > 1 and settings.cfg:
        say(f"note: CFG={settings.cfg} ignored: several trainers, each runs its default config")
        settings = dataclasses.replace(settings, cfg="")
    dirs, failed = [], []
    for trainer in trainers:
        configs.default_cfg(trainer, "fewshot", settings)
        for dataset in datasets:
            say(f"##### {trainer} on {dataset} ({shots} shots) #####")
            try:
                dirs.append(main_protocol(dataset, shots, dataclasses.replace(settings, trainer=trainer), dry_run))
            except DPLError as e:
                print(f"ERROR: {' '.join(str(e).split())}", file=sys.stderr, flush=True)
                failed.append(f"{trainer}/{dataset}")
            except StepFailed:
                failed.append(f"{trainer}/{dataset}")
    say("", f"Mean ± 95% CI over seeds (number of seeds), {shots} shots:")
    if dirs:
        parse_results(settings, "--table", *dirs, dry_run=dry_run)
    if failed:
        print(f"FAILED (see their logs above): {' '.join(failed)}", file=sys.stderr, flush=True)
        return 1
    return 0


PAPER_DATASETS = ("imagenet", "caltech101", "oxford_pets", "stanford_cars", "oxford_flowers", "food101",
                  "fgvc_aircraft", "sun397", "dtd", "eurosat", "ucf101")
XD_TARGETS = (*PAPER_DATASETS[1:], "imagenetv2", "imagenet_sketch", "imagenet_a", "imagenet_r")


def paper_sweep(cluster, extra, settings, protocols, dry_run=False):
    """The paper's protocols as sweeps (python -m dpl.sweep), seeds 1 2 3."""
    import shlex

    if cluster not in ("local", "slurm"):
        raise ProtocolError(f"first argument: local or slurm, got '{cluster}'")
    base = [*settings.python, "-m", "dpl.sweep", "--cluster", cluster, "--data", settings.data, "--output",
            settings.output, "--backbone", settings.backbone, "--seeds", "1", "2", "3"]
    if settings.opts:
        base += ["--opts", *settings.opts]
    each = {"fewshot": ["--protocol", "fewshot", "--datasets", *PAPER_DATASETS, "--shots", "1", "2", "4", "8", "16"],
            "base2new": ["--protocol", "base2new", "--datasets", *PAPER_DATASETS, "--shots", "16"],
            "xd": ["--protocol", "xd", "--xd-source", "imagenet", "--datasets", *XD_TARGETS, "--shots", "16"]}
    for protocol in protocols:
        if protocol not in each:
            raise ProtocolError(f"PROTOCOLS holds '{protocol}'; expected fewshot, base2new or xd")
    for protocol in protocols:
        say(f"##### {protocol} #####")
        command = [*base, *each[protocol], *extra]
        if dry_run:
            say(shlex.join(command))
            continue
        rc = subprocess.run(command, cwd=REPO).returncode
        if rc:
            raise StepFailed(rc)
