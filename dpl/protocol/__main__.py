"""python -m dpl.protocol SCRIPT [--dry-run] ARGS...: what scripts/dpl/SCRIPT.sh does (the scripts call this).

    main DATASET SHOTS | base2new_train DATASET SEED | base2new_test DATASET SEED | xd_train SEED |
    xd_test DATASET SEED | step STEP PROTOCOL DATASET SHOTS SEED | step --plan PROTOCOL DATASET SHOTS SEED... |
    compare "TRAINERS" "DATASETS" SHOTS | sweep [local|slurm] [dpl.sweep arguments]

Settings come from the environment (TRAINER, CFG, LAYOUT, FIXED, NPROC, SEEDS, OPTS, OUTPUT, DATA, ...; README
"The protocols"). --dry-run (or DRY_RUN=1) prints every train.py command and runs nothing.
"""
import os
import sys

from dpl.errors import DPLError

from . import protocols
from .run import StepFailed
from .settings import Settings

USAGE = {
    "main": "usage: bash scripts/dpl/main.sh DATASET SHOTS (e.g. caltech101 16)",
    "base2new_train": "usage: bash scripts/dpl/base2new_train.sh DATASET SEED (e.g. caltech101 1)",
    "base2new_test": "usage: bash scripts/dpl/base2new_test.sh DATASET SEED (e.g. caltech101 1)",
    "xd_train": "usage: bash scripts/dpl/xd_train.sh SEED",
    "xd_test": "usage: bash scripts/dpl/xd_test.sh DATASET SEED (e.g. caltech101 1)",
    "step": ("usage: bash scripts/dpl/step.sh [search | train | test] PROTOCOL DATASET SHOTS SEED, "
             "or --plan ... SEED..."),
    "compare": 'usage: bash scripts/dpl/compare.sh "TRAINERS" "DATASETS" SHOTS',
}
N_ARGS = {"main": (2,), "base2new_train": (2,), "base2new_test": (2,), "xd_train": (1,), "xd_test": (2,),
          "compare": (3,)}


class UsageError(DPLError):
    pass


def dispatch(command, args, settings, dry_run):
    if command in N_ARGS and len(args) not in N_ARGS[command]:
        raise UsageError(USAGE[command])
    shots = os.environ.get("SHOTS") or "16"
    if command == "main":
        protocols.main_protocol(args[0], args[1], settings, dry_run)
    elif command in ("base2new_train", "xd_train"):
        protocol = command.split("_")[0]
        dataset, seed = (args[0], args[1]) if protocol == "base2new" else (settings.xd_source, args[0])
        protocols.train_protocol(protocol, dataset, seed, shots, settings, dry_run)
    elif command in ("base2new_test", "xd_test"):
        protocol = command.split("_")[0]
        first = (f"scripts/dpl/base2new_train.sh {args[0]} {args[1]}" if protocol == "base2new"
                 else f"scripts/dpl/xd_train.sh {args[1]}")
        protocols.test_protocol(protocol, args[0], args[1], shots, settings, first, dry_run)
    elif command == "step":
        if len(args) < 5:
            raise UsageError(USAGE["step"])
        if args[0] == "--plan":
            protocols.print_plan(args[1], args[2], args[3], args[4:], settings)
        elif len(args) != 5:
            raise UsageError(USAGE["step"])
        else:
            protocols.one_step(*args, settings, dry_run=dry_run)
    elif command == "compare":
        return protocols.compare(*args, settings, dry_run)
    elif command == "sweep":
        cluster = args[0] if args else "local"
        protocols.paper_sweep(cluster, args[1:], settings, os.environ.get("PROTOCOLS", "fewshot base2new xd").split(),
                              dry_run)
    else:
        raise UsageError(__doc__.split("\n\n")[0] + f"; got '{command}'")
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    dry_run = "--dry-run" in argv or os.environ.get("DRY_RUN") == "1"
    argv = [a for a in argv if a != "--dry-run"]
    try:
        settings = Settings.from_env()
        return dispatch(argv[0] if argv else "", argv[1:], settings, dry_run)
    except StepFailed as e:
        return e.returncode
    except DPLError as e:
        print(f"ERROR: {' '.join(str(e).split())}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
