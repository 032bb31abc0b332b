"""Build any trainer in-process with train.py's arguments, on the Demo dataset with tiny-random (shared by the
test folders; a module of its own with a unique name, since every test folder has a conftest.py)."""
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# trainer -> (its cfg.TRAINER node, its published config)
TRAINERS = {
    "DPLSearch": ("DPL", "DPL/search.yaml"),
    "DPL": ("DPL", "DPL/vit_b16_ep40.yaml"),
    "CoOp": ("COOP", "CoOp/vit_b16_ep50.yaml"),
    "CoCoOp": ("COCOOP", "CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml"),
    "IVLP": ("IVLP", "IVLP/vit_b16_c2_ep5_batch4_2+2ctx.yaml"),
    "VPT": ("VPT", "VPT/vit_b16_c2_ep5_batch4_4.yaml"),
    "MaPLe": ("MAPLE", "MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml"),
    "PromptSRC": ("PROMPTSRC", "PromptSRC/vit_b16_c2_ep50_batch4_4+4ctx_few_shot.yaml"),
    "ZeroshotCLIP": ("ZSCLIP", "ZeroshotCLIP/vit_b16.yaml"),
}

# One short epoch with a learning rate large enough that every step visibly moves the prompts (no warm-up
# epoch at 1e-5, which fp16-stored tensors would not register at all).
FAST = ["DATASET.NUM_SHOTS", 2, "OPTIM.MAX_EPOCH", 1, "OPTIM.WARMUP_EPOCH", 0, "OPTIM.LR", 0.05,
        "DATALOADER.NUM_WORKERS", 0, "DATALOADER.TRAIN_X.BATCH_SIZE", 4, "DATALOADER.TEST.BATCH_SIZE", 16,
        "TRAIN.PRINT_FREQ", 100]
PER_TRAINER = {
    "DPLSearch": ["TRAINER.DPL.MAX_LENGTH", 2, "TRAINER.DPL.ALPHA_LR", 0.05],
    "DPL": ["TRAINER.DPL.MAX_LENGTH", 2, "TRAINER.DPL.CTX_INIT", "default", "TRAINER.LAYOUT", "random:3"],
}


def make_cfg(trainer_node=None, layout="", **opts):
    """The default config on tiny-random, with ``opts`` set in ``cfg.TRAINER[trainer_node]`` (no yaml, no data)."""
    from dpl.runs.config import get_cfg

    cfg = get_cfg()
    cfg.MODEL.BACKBONE.NAME = "tiny-random"
    cfg.TRAINER.LAYOUT = layout
    for key, value in opts.items():
        cfg.TRAINER[trainer_node][key] = value
    return cfg


def build_learner(trainer_name, cfg, clip_model, classnames=("dog", "cat", "golden_retriever")):
    """What ``PromptTrainer.build_model`` does after loading CLIP, without data or optimiser."""
    from dpl.engine import TRAINER_REGISTRY

    trainer_cls = TRAINER_REGISTRY.get(trainer_name)
    trainer = trainer_cls.__new__(trainer_cls)  # no engine: only build_learner is exercised
    trainer.cfg = cfg
    return trainer.build_learner(cfg, classnames, clip_model)


def build_as_train_py(trainer, config, data_root, output_dir, opts=(), seed=1):
    """``trainer`` with ``configs/trainers/<config>`` and KEY VALUE ``opts``, built as ``train.py`` would build it
    (seeded) on the Demo dataset with tiny-random, without training."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from train import build_parser

    from dpl.runs.config import setup_cfg
    from dpl.engine import build_trainer
    from dpl.engine.utils import set_random_seed

    import datasets  # noqa: F401  (registers Demo)
    import trainers  # noqa: F401  (registers every trainer)

    argv = ["--root", str(data_root), "--output-dir", str(output_dir), "--seed", str(seed), "--trainer", trainer,
            "--backbone", "tiny-random", "--dataset-config-file", str(REPO / "configs/datasets/demo.yaml"),
            "--config-file", str(REPO / "configs/trainers" / config), *map(str, opts)]
    cfg = setup_cfg(build_parser().parse_args(argv))
    set_random_seed(cfg.SEED)
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    return build_trainer(cfg)


def build(trainer, data_root, output_dir, precision="fp32", opts=(), seed=1):
    """Any trainer for one short epoch (``FAST``) in ``precision``, with its published config."""
    node, config = TRAINERS[trainer]
    return build_as_train_py(trainer, config, data_root, output_dir,
                             [*FAST, *PER_TRAINER.get(trainer, []), f"TRAINER.{node}.PREC", precision, *opts], seed)


class Interrupt(Exception):
    """Raised by ``train_until_interrupted`` after the first epoch's checkpoint is written."""


def train_until_interrupted(trainer):
    """Train ``trainer`` and stop it right after its first epoch ended (checkpoints written), as a kill would."""
    original_after_epoch = trainer.after_epoch

    def stop_after_first_epoch():
        original_after_epoch()
        raise Interrupt

    trainer.after_epoch = stop_after_first_epoch
    try:
        trainer.train()
    except Interrupt:
        return
    raise AssertionError("training ended without reaching the end of its first epoch")


def learned_state(trainer):
    """Copies of every checkpointed tensor (prompts, alphas...), by model and key."""
    return {f"{name}.{k}": v.detach().clone() for name in trainer.get_model_names()
            for k, v in trainer._models[name].state_dict().items()}
