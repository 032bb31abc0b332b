"""Helpers of the baseline tests: configs with every trainer's node, and a learner built the way each
trainer builds it (without data or an engine)."""
from trainer_harness import make_cfg  # noqa: F401  (the baseline tests import it from here)

BASE = ["dog", "cat", "golden_retriever"]
NEW = ["car", "tree", "boat", "bird", "house"]


def build_learner(trainer_name, cfg, clip_model, classnames=BASE):
    """What ``PromptTrainer.build_model`` does after loading CLIP, without data or optimiser."""
    from dpl.engine import TRAINER_REGISTRY

    trainer_cls = TRAINER_REGISTRY.get(trainer_name)
    trainer = trainer_cls.__new__(trainer_cls)  # no engine: only build_learner is exercised
    trainer.cfg = cfg
    return trainer.build_learner(cfg, classnames, clip_model)


def vision_counts(learner):
    return [0 if p is None else p.tokens.shape[-2] for p in learner.prompt_learner.vision_prompts()]


def text_counts(learner):
    """Tokens inserted at each text layer: layer 0 = the input context, deeper = the ReplacePrompt blocks."""
    deep = [0 if p is None else p.tokens.shape[-2] for p in learner.prompt_learner.text_prompts()]
    return [learner.prompt_learner.context.n_ctx] + deep[1:]
