"""The project's config: Dassl's defaults + the project's keys + every trainer's node, merged in CoOp's
order (defaults -> dataset yaml -> trainer yaml -> command-line arguments -> trailing opts)."""
import difflib
import os

import yaml
from yacs.config import CfgNode as CN

from dpl.runs.config_checks import check_values
from dpl.engine.config import get_cfg_default
from dpl.errors import ConfigError


def extend_cfg_common(cfg):
    """Keys every trainer may read, then each trainer's own node (``trainers.extend_cfg``)."""
    # Prompts are small: a checkpoint every epoch makes a killed run resume where it stopped; the newest few
    # are kept (0 keeps all, e.g. to evaluate an earlier epoch later).
    cfg.TRAIN.CHECKPOINT_FREQ = 1
    cfg.TRAIN.CHECKPOINT_KEEP = 3
    cfg.DATASET.SUBSAMPLE_CLASSES = "all"  # all, base or new (base-to-new protocol)
    cfg.DATASET.FOLDER = ""  # the custom folder dataset: a folder of <class>/<image> files
    cfg.MODEL.BACKBONE.PATH = ""  # CLIP weights file; "" = look in the CLIP cache dir
    cfg.MODEL.BACKBONE.PRETRAINED = ""  # open_clip backbones: a tag of the model, a weights file, or "random"
    # text passes run up to the batch's last end-of-text token (exact under the causal mask); True: CLIP's whole
    # context, as the official code (the same maths, only the order of float sums differs)
    cfg.MODEL.FULL_TEXT_CONTEXT = False
    cfg.TRAINER.LAYOUT = ""  # prompt layout: JSON path, uniform:K[:DEPTH], random:SEED or zero
    from dpl.repo_packages import import_repo_package  # here: the trainers import the engine, which must load first

    import_repo_package("trainers").extend_cfg(cfg)
    return cfg


def get_cfg():
    return extend_cfg_common(get_cfg_default())


# ---- merging with errors that name the source and the key -----------------------------------------
def _leaf_keys(node, prefix=""):
    for key, value in node.items():
        full = f"{prefix}{key}"
        if isinstance(value, CN):
            yield from _leaf_keys(value, full + ".")
        else:
            yield full


def _did_you_mean(cfg, key):
    known = list(_leaf_keys(cfg))
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    leaf = key.rsplit(".", 1)[-1]
    close += [k for k in known if k.rsplit(".", 1)[-1] == leaf and k not in close][:3]
    return f" Did you mean {' or '.join(close)}?" if close else ""


def _unknown_key(cfg, key, where):
    """``where`` is a phrase: "in <file>" or "on the command line"."""
    return ConfigError(f"Unknown config key {key} {where}.{_did_you_mean(cfg, key)}")


def _check_keys(root, node, other, where, prefix=""):
    """Raise ConfigError for the first key of ``other`` (a nested dict) that ``node`` does not have."""
    for key, value in other.items():
        full = f"{prefix}{key}"
        if key not in node:
            raise _unknown_key(root, full, f"in {where}")
        if isinstance(value, dict) and isinstance(node[key], CN):
            _check_keys(root, node[key], value, where, full + ".")


def merge_from_file(cfg, path, what="config file"):
    """Merge a yaml file; missing file, bad yaml, unknown key or wrong type is a ConfigError naming it."""
    if not os.path.isfile(path):
        raise ConfigError(f"The {what} {path} does not exist")
    try:
        with open(path) as f:
            other = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"The {what} {path} is not valid YAML: {e}") from e
    if not isinstance(other, dict):
        raise ConfigError(f"The {what} {path} must hold a mapping of config keys, got {type(other).__name__}")
    _check_keys(cfg, cfg, other, path)
    try:
        cfg.merge_from_other_cfg(CN(other))
    except (KeyError, ValueError, AssertionError, TypeError) as e:
        raise ConfigError(f"Bad value in {path}: {e}") from e


def merge_from_list(cfg, opts, where="command line"):
    """Merge ``KEY VALUE`` pairs (the trailing opts of train.py)."""
    opts = list(opts or [])
    if len(opts) % 2:
        raise ConfigError(f"Config options on the {where} must come in KEY VALUE pairs; got an odd number "
                          f"({len(opts)}): {' '.join(map(str, opts))}")
    for key in opts[0::2]:
        node = cfg
        for part in key.split("."):
            if not isinstance(node, CN) or part not in node:
                raise _unknown_key(cfg, key, f"on the {where}")
            node = node[part]
    try:
        cfg.merge_from_list(opts)
    except (KeyError, ValueError, AssertionError, TypeError) as e:
        raise ConfigError(f"Bad value on the {where}: {e}") from e


# The official train.py (CoOp's) reads ``if args.seed:``, so its --seed 0 sets nothing and the run takes the config's
# SEED (unseeded by default): refused, so that one command never means two things.
SEED_ZERO = ("--seed 0: the official train.py ignores a seed of 0 (`if args.seed:`) and runs with the config's SEED, "
             "unseeded by default, so --seed 0 would mean something else here than there. Pass a seed >= 1 (the "
             "protocols use 1, 2, 3), leave --seed out for an unseeded run, or put SEED 0 among the config options "
             "to seed with 0 (the official code seeds that one too).")


def reset_cfg(cfg, args):
    """Values given as train.py arguments (CoOp's reset_cfg; a seed >= 1 counts, -1 leaves the config's SEED,
    0 is refused: ``SEED_ZERO``)."""
    def arg(name):
        return getattr(args, name, None)

    if arg("root"):
        cfg.DATASET.ROOT = str(arg("root"))
    if arg("output_dir"):
        cfg.OUTPUT_DIR = str(arg("output_dir"))
    if arg("resume"):
        cfg.RESUME = str(arg("resume"))
    if arg("seed") == 0:
        raise ConfigError(SEED_ZERO)
    if arg("seed") is not None and arg("seed") >= 0:
        cfg.SEED = int(arg("seed"))
    if arg("source_domains"):
        cfg.DATASET.SOURCE_DOMAINS = arg("source_domains")
    if arg("target_domains"):
        cfg.DATASET.TARGET_DOMAINS = arg("target_domains")
    if arg("transforms"):
        cfg.INPUT.TRANSFORMS = arg("transforms")
    if arg("trainer"):
        cfg.TRAINER.NAME = arg("trainer")
    if arg("backbone"):
        cfg.MODEL.BACKBONE.NAME = arg("backbone")
    if arg("head"):
        cfg.MODEL.HEAD.NAME = arg("head")


# INPUT keys a backbone's own preprocessing sets, by the name backbone.input_settings gives them
BACKBONE_INPUT_KEYS = {"size": "SIZE", "mean": "PIXEL_MEAN", "std": "PIXEL_STD", "interpolation": "INTERPOLATION"}


def apply_backbone_input(cfg, explicit=()):
    """An open_clip backbone's own image preprocessing (size, mean, std, interpolation) into ``cfg.INPUT``: the
    trainer configs carry OpenAI CLIP's values. Keys in ``explicit`` (given on the command line) are kept."""
    from dpl.backbones.loading import input_settings

    settings = input_settings(cfg.MODEL.BACKBONE.NAME, cfg.MODEL.BACKBONE.PRETRAINED)
    if settings is None:
        return
    for name, key in BACKBONE_INPUT_KEYS.items():
        if f"INPUT.{key}" not in explicit:
            cfg.INPUT[key] = type(cfg.INPUT[key])(settings[name])


def setup_cfg(args):
    """The frozen config of a run from train.py's parsed ``args``."""
    cfg = get_cfg()
    if getattr(args, "dataset_config_file", ""):
        merge_from_file(cfg, str(args.dataset_config_file), "dataset config file")
    if getattr(args, "config_file", ""):
        merge_from_file(cfg, str(args.config_file), "config file")
    reset_cfg(cfg, args)
    opts = getattr(args, "opts", None) or []
    merge_from_list(cfg, opts)
    apply_backbone_input(cfg, explicit=opts[0::2])
    check_values(cfg)
    cfg.freeze()
    return cfg
