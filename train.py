"""Train or evaluate a prompt learner (CoOp's command line).

    python train.py --root DATA --trainer CoOp --dataset-config-file configs/datasets/caltech101.yaml \
        --config-file configs/trainers/CoOp/vit_b16_ep50.yaml --output-dir output/run --seed 1 \
        DATASET.NUM_SHOTS 16

A user-facing error (bad config key, missing data, unreadable checkpoint...) is printed as one paragraph
and the exit status is 2.
"""
import os
import random
import shlex
import sys
import time

import torch

from dpl.errors import DPLError
from dpl.runs.train_args import build_parser, parse_args  # noqa: F401 (train.py's command line, kept importable here)


def print_run_header(args, cfg):
    from dpl.engine.utils.env import collect_env_info, git_commit
    from dpl.engine.utils.logger import log_only

    print("Command: " + " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    print("***************")
    print("** Arguments **")
    print("***************")
    for key in sorted(vars(args)):
        print(f"{key}: {getattr(args, key)}")
    config = "\n".join(["************", "** Config **", "************", str(cfg)])
    if log_only(config):  # hundreds of lines: in log.txt once, not scrolling the terminal
        print(f"Config: in full in {getattr(sys.stdout, 'file').name}")
    print("Collecting env info ...")
    print("** System info **\n" + collect_env_info() + "\n")
    print(f"Project git commit: {git_commit() or 'unknown (not a git checkout)'}")


def train_per_class(trainer):
    from dpl.engine.data.datasets.base_dataset import images_per_class

    dataset = getattr(getattr(trainer, "dm", None), "dataset", None)
    return images_per_class(dataset.train_x) if dataset is not None and dataset.train_x else None


def results_record(trainer, cfg, args, elapsed):
    record = {k: float(v) for k, v in getattr(trainer, "last_results", {}).items()}
    record.update({
        "seed": cfg.SEED,
        "shots": cfg.DATASET.NUM_SHOTS,
        "dataset": cfg.DATASET.NAME,
        "trainer": cfg.TRAINER.NAME,
        "backbone": cfg.MODEL.BACKBONE.NAME,
        "subsample_classes": cfg.DATASET.SUBSAMPLE_CLASSES,
        "layout": cfg.TRAINER.LAYOUT,
        "eval_only": bool(args.eval_only),
        "train_per_class": train_per_class(trainer),  # the real K when a class has fewer images than NUM_SHOTS
        "elapsed": elapsed,
        "fingerprint": trainer.fingerprint,  # what scripts compare before they skip this run as finished
    })
    return record


def resume_check(fingerprint, accept_unfingerprinted):
    """The engine's hook run on every model's checkpoint before a resume: refuse another configuration's."""
    from dpl.runs.run_identity import check_checkpoint

    def check(checkpoint, path):
        warning = check_checkpoint(checkpoint, path, fingerprint, accept_unfingerprinted)
        if warning:
            print(f"WARNING: {warning}")

    return check


def run(args, cfg):
    """Everything after the logger is up; returns the trainer."""
    from dpl.engine import distributed
    from dpl.engine.utils import set_random_seed, write_json
    from dpl.file_io import remove_stale_temps

    start = time.time()
    if distributed.is_main():
        for path in remove_stale_temps(cfg.OUTPUT_DIR):
            print(f"Removed {path}, left by a write that was killed")
    distributed.barrier()
    if cfg.SEED >= 0:
        print(f"Setting fixed seed: {cfg.SEED}")
        set_random_seed(cfg.SEED)
    elif distributed.is_distributed():  # every process must draw the same numbers: one seed, chosen by the first
        seed = distributed.gather_objects(random.SystemRandom().randrange(2 ** 31))[0]
        print(f"Data-parallel run without --seed: every process uses seed {seed}")
        set_random_seed(seed)
    if distributed.is_distributed():
        print(f"Data-parallel run: {distributed.world_size()} processes; each takes its slice of every batch")
    print_run_header(args, cfg)
    if torch.cuda.is_available() and cfg.USE_CUDA:
        torch.backends.cudnn.benchmark = True

    from dpl.engine import build_trainer
    from dpl.repo_packages import import_repo_package

    import_repo_package("datasets")  # fills DATASET_REGISTRY (the repository's datasets/, not Hugging Face's)
    import_repo_package("trainers")  # fills TRAINER_REGISTRY
    from dpl.runs.run_identity import refuse_other_run, run_fingerprint

    def fingerprint():
        return run_fingerprint(cfg, args.eval_only, args.model_dir, args.load_epoch)

    refuse_other_run(cfg.OUTPUT_DIR, cfg.TRAINER.NAME, fingerprint)  # before anything is built or written
    trainer = build_trainer(cfg)
    trainer.fingerprint = fingerprint()  # now that the dataset exists (Demo generates itself on first use)
    trainer.resume_check = resume_check(trainer.fingerprint, bool(getattr(args, "accept_unfingerprinted", False)))
    if args.eval_only:
        trainer.trust_checkpoint = bool(getattr(args, "trust_checkpoint", False))
        if not args.model_dir and trainer.get_model_names():  # ZeroshotCLIP learns nothing: nothing to load
            print(f"WARNING: --eval-only without --model-dir: {cfg.TRAINER.NAME} is evaluated with untrained "
                  "(freshly initialised) prompts. Pass --model-dir <a trained run's output folder> to evaluate "
                  "what it learned.", file=sys.stderr, flush=True)
        trainer.load_model(args.model_dir, epoch=args.load_epoch)
        trainer.test()
    elif not args.no_train:
        trainer.train()

    if getattr(trainer, "last_results", None) and distributed.is_main():
        from dpl.runs.finite_weights import refuse_non_finite_weights

        refuse_non_finite_weights({n: trainer._models[n] for n in trainer.get_model_names()}, "results.json")
        path = os.path.join(cfg.OUTPUT_DIR, "results.json")
        write_json(results_record(trainer, cfg, args, round(time.time() - start, 3)), path)
        print(f"Results written to {path}")
    return trainer


def report_error(error):
    sys.stdout.flush()
    message = " ".join(str(error).split())  # one paragraph, whatever line breaks the message had
    print(f"Error: {message}", file=sys.stderr, flush=True)


def main(args):
    """Run train.py with parsed ``args``; a DPLError is reported (also into log.txt) and exits with status 2."""
    from dpl.runs.config import setup_cfg
    from dpl.engine.utils import setup_logger

    from dpl.engine import distributed

    logger, quiet = None, None
    try:
        cfg = setup_cfg(args)
        distributed.init_from_env(use_cuda=cfg.USE_CUDA)  # torchrun: join the other processes
        if distributed.is_main():
            logger = setup_logger(cfg.OUTPUT_DIR)  # before anything else is printed, so all of it is in log.txt
        else:  # the first process logs for all; the others keep their errors (stderr) only
            quiet, sys.stdout = sys.stdout, open(os.devnull, "w")
    except DPLError as e:
        report_error(e)
        raise SystemExit(2) from None
    try:
        return run(args, cfg)
    except DPLError as e:
        report_error(e)
        raise SystemExit(2) from None
    finally:
        if logger is not None:
            sys.stdout.flush()
            logger.close()
        if quiet is not None:
            sys.stdout.close()
            sys.stdout = quiet
        distributed.shutdown()


def cli(argv=None):
    return main(parse_args(argv))


if __name__ == "__main__":
    cli()
