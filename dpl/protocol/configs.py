"""Which config files a protocol run uses: each trainer's published config, CONFIG_ROOT before the shipped ones."""
import os
import re

from dpl.errors import did_you_mean

from .settings import REPO, ProtocolError

TRAINERS = ("ZeroshotCLIP", "CoOp", "CoCoOp", "IVLP", "VPT", "MaPLe", "PromptSRC", "DPL")


def default_cfg(trainer, protocol, settings):
    """The published config of ``trainer``; PromptSRC and MaPLe have protocol-specific ones."""
    fixed = settings.fixed_suffix
    table = {
        "DPL": f"vit_b16_ep40{fixed}",
        "DPLSearch": settings.search_cfg,
        "ZeroshotCLIP": "vit_b16",
        "CoOp": "vit_b16_ep50",
        "CoCoOp": "vit_b16_c4_ep10_batch1_ctxv1",
        "IVLP": "vit_b16_c2_ep5_batch4_2+2ctx",
        "VPT": "vit_b16_c2_ep5_batch4_4",
        "MaPLe": {"xd": "vit_b16_c2_ep5_batch4_2ctx_cross_datasets"}.get(protocol, "vit_b16_c2_ep5_batch4_2ctx"),
        "PromptSRC": {"base2new": "vit_b16_c2_ep20_batch4_4+4ctx",
                      "xd": "vit_b16_c2_ep20_batch4_4+4ctx_cross_datasets"}.get(
                          protocol, "vit_b16_c2_ep50_batch4_4+4ctx_few_shot"),
    }
    if trainer not in table:
        raise ProtocolError(f"unknown TRAINER '{trainer}' (expected one of: {' '.join(TRAINERS)})")
    return table[trainer]


def find_config(rel, settings):
    """CONFIG_ROOT/<rel>, else the shipped configs/<rel> (a CONFIG_ROOT of your own need only hold what you add);
    None when neither exists. Paths are as the scripts pass them to train.py (run from the repository root)."""
    for f in (f"{settings.config_root}/{rel}", f"configs/{rel}"):
        if os.path.isfile(f if f.startswith("/") else REPO / f):
            return f
    return None


def config_names(rel, settings):
    names = set()
    for root in (settings.config_root, "configs"):
        folder = os.path.join(REPO, root, rel)
        if os.path.isdir(folder):
            names.update(n[:-5] for n in os.listdir(folder) if n.endswith(".yaml"))
    return sorted(names)


def available_configs(rel, settings):
    return " ".join(config_names(rel, settings))


def dataset_config(dataset, settings):
    f = find_config(f"datasets/{dataset}.yaml", settings)
    if f is None:
        raise ProtocolError(f"no dataset config '{settings.config_root}/datasets/{dataset}.yaml' for DATASET "
                            f"'{dataset}'.{did_you_mean(dataset, config_names('datasets', settings))} "
                            f"(available: {available_configs('datasets', settings)})")
    return f


def trainer_config(trainer, cfg, settings):
    f = find_config(f"trainers/{trainer}/{cfg}.yaml", settings)
    if f is None:
        available = available_configs(f"trainers/{trainer}", settings)
        raise ProtocolError(f"no trainer config '{settings.config_root}/trainers/{trainer}/{cfg}.yaml' "
                            f"(TRAINER={trainer}, CFG={cfg}; available: {available})")
    return f


def search_config(settings):
    """The search config, under trainers/DPLSearch/ or with DPL's configs."""
    for rel in (f"trainers/DPLSearch/{settings.search_cfg}.yaml", f"trainers/DPL/{settings.search_cfg}.yaml"):
        f = find_config(rel, settings)
        if f is not None:
            return f
    raise ProtocolError(f"no search config '{settings.search_cfg}.yaml' under "
                        f"{settings.config_root}/trainers/DPLSearch/ or {settings.config_root}/trainers/DPL/ (SEARCH_CFG={settings.search_cfg})")


def max_epoch(cfg_file, settings):
    """The epoch a finished training run saved last: LOAD_EPOCH, else OPTIM.MAX_EPOCH from OPTS, else the yaml's."""
    if settings.load_epoch:
        return settings.load_epoch
    pairs = settings.opts
    for key, value in zip(pairs[::2], pairs[1::2]):
        if key == "OPTIM.MAX_EPOCH":
            return value
    path = cfg_file if cfg_file.startswith("/") else REPO / cfg_file
    with open(path) as f:
        for line in f:
            if re.match(r"^\s+MAX_EPOCH:", line):
                m = re.match(r".*MAX_EPOCH:\s*([0-9]+)", line)
                if m:
                    return m.group(1)
                break
    raise ProtocolError(f"cannot read OPTIM.MAX_EPOCH from '{cfg_file}'; set LOAD_EPOCH")
