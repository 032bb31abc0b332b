"""Train or evaluate a prompt learner (CoOp's command line).

    python train.py --root DATA --trainer CoOp --dataset-config-file configs/datasets/caltech101.yaml \
        --config-file configs/trainers/CoOp/vit_b16_ep50.yaml --output-dir output/run --seed 1 \
        DATASET.NUM_SHOTS 16

A user-facing error (bad config key, missing data, unreadable checkpoint...) is printed as one paragraph
and the exit status is 2.
"""
import argparse
import os
import random
import shlex
import sys
import time

import torch

from dpl.errors import DPLError


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=str, default="", help="path to the dataset root")
    p.add_argument("--output-dir", type=str, default="", help="output directory")
    p.add_argument("--resume", type=str, default="", help="checkpoint directory to resume from")
    p.add_argument("--seed", type=int, default=-1, help="only a seed >= 0 (0 included) fixes the randomness")
    p.add_argument("--source-domains", type=str, nargs="+", help="source domains for DA/DG")
    p.add_argument("--target-domains", type=str, nargs="+", help="target domains for DA/DG")
    p.add_argument("--transforms", type=str, nargs="+", help="data augmentation methods")
    p.add_argument("--config-file", type=str, default="", help="path to the trainer config file")
    p.add_argument("--dataset-config-file", type=str, default="", help="path to the dataset config file")
    p.add_argument("--trainer", type=str, default="", help="name of the trainer")
    p.add_argument("--backbone", type=str, default="", help="name of the CNN/ViT backbone")
    p.add_argument("--head", type=str, default="", help="name of the head")
    p.add_argument("--eval-only", action="store_true", help="evaluation only")
    p.add_argument("--model-dir", type=str, default="", help="load the model from this directory for eval-only")
    p.add_argument("--load-epoch", type=int, help="load the model weights saved at this epoch for evaluation")
    p.add_argument("--no-train", action="store_true", help="do not call trainer.train()")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="load --model-dir checkpoints with full unpickling (may run code stored in them); only for "
                        "files from a source you trust that hold objects beyond Dassl's optimizer / scheduler state")
    p.add_argument("opts", default=None, nargs=argparse.REMAINDER,
                   help="modify config options using the command line (KEY VALUE pairs)")
    return p


def parse_args(argv=None):
    """train.py's arguments. Flags after the KEY VALUE pairs (``... OPTIM.MAX_EPOCH 2 --resume DIR``) are taken as
    flags, not as config keys; an unknown one is an error that says where flags go."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    opts = list(args.opts or [])
    if not any(str(o).startswith("--") for o in opts):
        return args
    head, flags, pairs = argv[:len(argv) - len(opts)], [], []
    i = 0
    while i < len(opts):
        token = str(opts[i])
        if not token.startswith("--"):
            pairs.append(token)
            i += 1
            continue
        action = parser._option_string_actions.get(token.split("=", 1)[0])
        if action is None:
            parser.error(f"unknown flag {token} among the config options; put flags before the KEY VALUE pairs")
        n = 0 if action.nargs == 0 or "=" in token else len(opts) - i - 1 if action.nargs == "+" else 1
        if action.nargs == "+":  # values up to the next flag or config key
            n = next((j for j, t in enumerate(opts[i + 1:]) if str(t).startswith("--") or _is_key(t)), n)
        flags += [token, *opts[i + 1:i + 1 + n]]
        i += 1 + n
    return parser.parse_args([*head, *flags, *pairs])


def _is_key(token):
    parts = str(token).split(".")
    return len(parts) > 1 and all(p and p.upper() == p and p[0].isalpha() for p in parts)


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


def run(args, cfg):
    """Everything after the logger is up; returns the trainer."""
    from dpl.engine import distributed
    from dpl.engine.utils import set_random_seed, write_json
    from dpl.engine.utils.io import remove_stale_temps

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
    from dpl.run_identity import refuse_other_run, run_fingerprint

    def fingerprint():
        return run_fingerprint(cfg, args.eval_only, args.model_dir, args.load_epoch)

    refuse_other_run(cfg.OUTPUT_DIR, cfg.TRAINER.NAME, fingerprint)  # before anything is built or written
    trainer = build_trainer(cfg)
    trainer.fingerprint = fingerprint()  # now that the dataset exists (Demo generates itself on first use)
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
    from dpl.config import setup_cfg
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
