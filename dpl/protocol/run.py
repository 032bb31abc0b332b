"""Running planned steps the way the protocol scripts always have: each exact train.py command printed before it
runs, finished steps skipped, another configuration's folder refused, a step whose input is missing stopped with
what to run first. ``dry_run`` prints every command and runs nothing."""
import os
import shlex
import subprocess
import sys

from dpl.runs.run_identity import OtherRunError

from .decide import finished
from .settings import REPO, ProtocolError


class StepFailed(Exception):
    """train.py (or parse_test_res.py) exited with ``returncode``; the scripts exit with it too."""

    def __init__(self, returncode):
        super().__init__(f"exit status {returncode}")
        self.returncode = returncode


def say(*lines):
    print(*lines, sep="\n", flush=True)


def train_command(step, settings):
    if settings.nproc > 1:  # every run data-parallel over NPROC processes on this machine (torchrun)
        return [*settings.python, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                str(settings.nproc), "train.py", *step.args]
    return [*settings.python, "train.py", *step.args]


def call(command):
    rc = subprocess.run(command, cwd=REPO).returncode
    if rc:
        raise StepFailed(rc)


def state_of(step, settings):
    """finished | todo, or OtherRunError (printed as the scripts print it) for another configuration's folder."""
    try:
        return "finished" if finished(step, settings) else "todo"
    except OtherRunError as e:
        print("Error: " + " ".join(str(e).split()), file=sys.stderr, flush=True)
        raise ProtocolError(f"{step.run_dir} holds a run of another configuration (see above); nothing was run or "
                            "overwritten") from None


def check_inputs(step, plan, first):
    """Before a step runs: what it reads exists; ``first`` names the command that makes it."""
    if step.model_dir and not os.path.isdir(step.model_dir):
        raise ProtocolError(f"no trained model in {step.model_dir}; run {first} first")
    if step.layout_file and not os.path.isfile(step.layout_file):
        raise ProtocolError(f"no searched layout {step.layout_file}; run {first} first")


def run_step(step, settings, plan=None, first="the search step", dry_run=False):
    """One step: skipped when finished with this configuration, else run (an interrupted run resumes)."""
    command = train_command(step, settings)
    state = state_of(step, settings)
    if state == "finished":
        say(f"skip: {step.run_dir} is finished ({os.path.basename(step.marker)} of the same configuration)")
        return
    if dry_run:
        say(f"# {step.name}: {step.run_dir}", shlex.join(command))
        return
    check_inputs(step, plan, first)
    say(f">> {'search' if step.name == 'search' else 'run'}: {step.run_dir}", "$ " + shlex.join(command))
    call(command)
    if step.name == "search" and not os.path.isfile(step.marker):
        raise ProtocolError(f"the search in {step.run_dir} finished without writing layout.json")


def parse_results(settings, *args, dry_run=False):
    command = [*settings.python, "parse_test_res.py", *args]
    if dry_run:
        say("# then the table", shlex.join(command))
        return
    call(command)
