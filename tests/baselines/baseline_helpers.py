"""Helpers of the baseline tests: configs with every trainer's node, and a learner built the way each
trainer builds it (without data or an engine)."""
from trainer_harness import build_learner, make_cfg  # noqa: F401  (the baseline tests import them from here)

BASE = ["dog", "cat", "golden_retriever"]
NEW = ["car", "tree", "boat", "bird", "house"]


def vision_counts(learner):
    return [0 if p is None else p.tokens.shape[-2] for p in learner.prompt_learner.vision_prompts()]


def text_counts(learner):
    """Tokens inserted at each text layer: layer 0 = the input context, deeper = the ReplacePrompt blocks."""
    deep = [0 if p is None else p.tokens.shape[-2] for p in learner.prompt_learner.text_prompts()]
    return [learner.prompt_learner.context.n_ctx] + deep[1:]
