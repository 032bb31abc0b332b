"""Config and generated-data helpers for the dataset tests."""
import datasets  # noqa: F401  (registers every dataset)


def make_cfg(root, name, num_shots=0, subsample="all", seed=1, folder=""):
    """A config with the DATASET keys the readers use: the engine's defaults when they exist, plus
    the keys ``dpl/runs/config.py`` adds (SUBSAMPLE_CLASSES, FOLDER) if they are not there yet."""
    try:
        from dpl.engine.config import get_cfg_default
        cfg = get_cfg_default()
    except ImportError:
        from yacs.config import CfgNode as CN
        cfg = CN()
        cfg.SEED = -1
        cfg.DATASET = CN()
        cfg.DATASET.ROOT = ""
        cfg.DATASET.NAME = ""
        cfg.DATASET.NUM_SHOTS = -1
    cfg.defrost()
    if "SUBSAMPLE_CLASSES" not in cfg.DATASET:
        cfg.DATASET.SUBSAMPLE_CLASSES = "all"
    if "FOLDER" not in cfg.DATASET:
        cfg.DATASET.FOLDER = ""
    cfg.DATASET.ROOT = str(root)
    cfg.DATASET.NAME = name
    cfg.DATASET.NUM_SHOTS = num_shots
    cfg.DATASET.SUBSAMPLE_CLASSES = subsample
    cfg.DATASET.FOLDER = folder
    cfg.SEED = seed
    return cfg


def build(root, name, **kwargs):
    from dpl.engine.data.datasets import build_dataset

    return build_dataset(make_cfg(root, name, **kwargs))
