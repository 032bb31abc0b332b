"""train.py's command line (CoOp's flags, then KEY VALUE config pairs), in the library so that the tools that
reason about a run from its arguments (run fingerprints, the protocol planner) never import the entry script."""
import argparse
import sys

DESCRIPTION = "Train or evaluate a prompt learner (CoOp's command line)."


def build_parser():
    p = argparse.ArgumentParser(description=DESCRIPTION)
    p.add_argument("--root", type=str, default="", help="path to the dataset root")
    p.add_argument("--output-dir", type=str, default="", help="output directory")
    p.add_argument("--resume", type=str, default="", help="checkpoint directory to resume from")
    p.add_argument("--seed", type=int, default=-1,
                   help="a seed >= 1 fixes the randomness (0 is refused: the official train.py ignores it; "
                        "SEED 0 among the config options seeds with 0)")
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
    p.add_argument("--accept-unfingerprinted", action="store_true",
                   help="resume from checkpoints that carry no run fingerprint (written by an older version); their "
                        "configuration is then not checked against this run's")
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
