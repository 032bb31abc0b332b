"""Numeric config values a run cannot work with, refused before anything runs (``OPTIM.MAX_EPOCH -1`` used to
train nothing and write a results.json that the scripts then took as a finished run). Each rule names the key,
its value and what is expected; keys a config does not have are skipped."""
from collections import namedtuple

from dpl.errors import ConfigError
from dpl.prompting.supernet import INITS as SEARCH_INITS

Rule = namedtuple("Rule", "check expected numeric")


def _at_least(low):
    return Rule(lambda v: v >= low, f">= {low}", True)


def _above(low):
    return Rule(lambda v: v > low, f"> {low}", True)


def _between(low, high):
    return Rule(lambda v: low <= v <= high, f"between {low} and {high}", True)


def _one_of(*choices):
    return Rule(lambda v: v in choices, "one of " + ", ".join(map(repr, choices)), False)


_SHOTS = Rule(lambda v: v >= 0 or v == -1, ">= 0 (or -1: every image)", True)

# key -> (check, what is expected)
RULES = {
    "OPTIM.MAX_EPOCH": _at_least(1),
    "OPTIM.LR": _above(0),
    "OPTIM.WEIGHT_DECAY": _at_least(0),
    "OPTIM.MOMENTUM": _between(0, 1),
    "OPTIM.WARMUP_EPOCH": _at_least(-1),
    "OPTIM.WARMUP_CONS_LR": _at_least(0),
    "OPTIM.WARMUP_MIN_LR": _at_least(0),
    "DATASET.NUM_SHOTS": _SHOTS,
    "DATASET.SUBSAMPLE_CLASSES": _one_of("all", "base", "new"),
    "DATALOADER.TRAIN_X.BATCH_SIZE": _at_least(1),
    "DATALOADER.TRAIN_U.BATCH_SIZE": _at_least(1),
    "DATALOADER.TEST.BATCH_SIZE": _at_least(1),
    "DATALOADER.NUM_WORKERS": _at_least(0),
    "TRAIN.PRINT_FREQ": _at_least(1),
    "TRAIN.CHECKPOINT_FREQ": _at_least(0),
    "TRAIN.CHECKPOINT_KEEP": _at_least(0),
    "TEST.FINAL_MODEL": _one_of("last_step", "best_val"),
    "TEST.SPLIT": _one_of("test", "val"),
    "MODEL.FULL_TEXT_CONTEXT": _one_of(False, True),
}
# Keys of any trainer node (TRAINER.<NODE>.<KEY>), by their last name.
TRAINER_RULES = {
    "N_CTX": _at_least(0), "N_CTX_VISION": _at_least(0), "N_CTX_TEXT": _at_least(0),
    "PROMPT_DEPTH": _at_least(-1), "PROMPT_DEPTH_VISION": _at_least(-1), "PROMPT_DEPTH_TEXT": _at_least(-1),
    "MAX_LENGTH": _at_least(1), "PROMPT_STD": _at_least(0), "ALPHA_LR": _above(0), "ALPHA_WEIGHT_DECAY": _at_least(0),
    "ALPHA_WARMUP_EPOCHS": _at_least(0), "KD_WEIGHT": _at_least(0), "KD_TEMPERATURE": _above(0),
    "COLLAPSE_ZERO_FRACTION": _between(0, 1), "UNDECIDED_MARGIN": _at_least(0),
    "TEXT_LOSS_WEIGHT": _at_least(0), "IMAGE_LOSS_WEIGHT": _at_least(0), "GPA_STD": _above(0),
    # DPL's switches between the official behaviour and our corrections (README: "Differences from the official code")
    "SEARCH_INIT": _one_of(*SEARCH_INITS), "ALPHA_BATCHES": _one_of("first", "cycle"),
    "KD_REDUCTION": _one_of("numel", "batchmean"),
}


def _get(cfg, key):
    node = cfg
    for part in key.split("."):
        if part not in node:
            return None, False
        node = node[part]
    return node, True


def _check(key, value, rule, where):
    if rule.numeric and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ConfigError(f"{key} is {value!r} {where}; expected a number {rule.expected}")
    if not rule.check(value):
        raise ConfigError(f"{key} is {value!r} {where}; expected {rule.expected}")


def check_values(cfg, where="in the merged config"):
    """ConfigError naming the first key whose value a run cannot work with."""
    for key, rule in RULES.items():
        value, found = _get(cfg, key)
        if found:
            _check(key, value, rule, where)
    size, found = _get(cfg, "INPUT.SIZE")
    if found and not (len(size) == 2 and all(isinstance(s, int) and s >= 1 for s in size)):
        raise ConfigError(f"INPUT.SIZE is {tuple(size)!r} {where}; expected two whole numbers >= 1, e.g. (224, 224)")
    for node_name, node in cfg.TRAINER.items():
        if not hasattr(node, "items"):
            continue
        for leaf, value in node.items():
            if leaf in TRAINER_RULES:
                _check(f"TRAINER.{node_name}.{leaf}", value, TRAINER_RULES[leaf], where)
