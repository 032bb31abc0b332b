"""Helpers of the method tests: trainers built as train.py builds them (tests/trainer_harness.py) on either backbone
family, and a few optimizer steps taken without the engine's epoch loop (no test pass, no checkpoint)."""
import itertools

from trainer_harness import build

# the two backbone families, as their tiny seeded models; values are the extra KEY VALUE options
BACKBONES = {
    "openai": [],
    "open_clip": ["MODEL.BACKBONE.NAME", "open_clip:dpl-tiny", "MODEL.BACKBONE.PRETRAINED", "random"],
}
LEARNING_TRAINERS = ["DPLSearch", "DPL", "CoOp", "CoCoOp", "IVLP", "VPT", "MaPLe", "PromptSRC"]


def build_on(name, backbone, data_root, output_dir, precision="fp32", opts=()):
    return build(name, data_root, output_dir, precision, [*BACKBONES[backbone], *opts])


def take_steps(trainer, n_steps):
    """``n_steps`` training steps as ``run_epoch`` takes them (train mode, batch_idx, num_batches)."""
    trainer.set_model_mode("train")
    trainer.epoch = 0
    trainer.num_batches = len(trainer.train_loader_x)
    batches = itertools.islice(trainer.train_loader_x, n_steps)
    return [trainer.forward_backward(batch) for trainer.batch_idx, batch in enumerate(batches)]
