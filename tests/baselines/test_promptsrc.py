"""PromptSRC: frozen text features computed once, frozen image features from the same CLIP (no second copy),
the regularising terms, and Gaussian prompt aggregation."""
import math

import clip.model

import pytest
import torch

from baseline_helpers import BASE, build_learner, make_cfg
from dpl.method.templates import IMAGENET_TEMPLATES_60
from trainers.promptsrc import PromptSRC, gpa_weights

OPTS = {"PROMPT_DEPTH_VISION": 2, "PROMPT_DEPTH_TEXT": 2}


def test_frozen_text_features_are_computed_once(tiny_clip, images, monkeypatch):
    learner = build_learner("PromptSRC", make_cfg("PROMPTSRC", **OPTS), tiny_clip)
    calls = {"frozen": 0, "prompted": 0}
    original = tiny_clip.encode_text

    def counting(embeddings, eot_index, prompts=None, n_input_prompts=0):
        calls["frozen" if prompts is None else "prompted"] += 1
        return original(embeddings, eot_index, prompts=prompts, n_input_prompts=n_input_prompts)

    monkeypatch.setattr(tiny_clip, "encode_text", counting)
    learner.train()
    for _ in range(3):
        learner(images)
    assert calls["frozen"] == len(IMAGENET_TEMPLATES_60)  # one pass per template, in the first step only
    assert calls["prompted"] == 3
    assert learner.frozen_text_features.shape == (len(BASE), tiny_clip.embed_dim)


def test_no_second_clip_in_memory(tiny_clip):
    learner = build_learner("PromptSRC", make_cfg("PROMPTSRC", **OPTS), tiny_clip)
    assert sum(isinstance(m, clip.model.VisionTransformer) for m in learner.modules()) == 1
    assert sum(isinstance(m, clip.model.Transformer) for m in learner.modules()) == 2  # one per tower
    learned = sum(p.numel() for p in learner.prompt_learner.parameters())
    assert sum(p.numel() for p in learner.parameters()) == sum(p.numel() for p in tiny_clip.parameters()) + learned


def test_regularisers(tiny_clip, images):
    learner = build_learner("PromptSRC", make_cfg("PROMPTSRC", **OPTS), tiny_clip)
    learner.train()
    logits = learner(images)
    pairs = learner.regularised
    assert set(pairs) == {"text", "image", "logits"}
    assert not torch.equal(*pairs["image"])  # prompted image features differ from the frozen ones
    # the frozen image features are those of the same CLIP run without prompts
    with torch.no_grad():
        frozen = learner.encode_images(images)
        prompted = learner.image_features(images)
    assert torch.equal(pairs["image"][1], frozen) and torch.allclose(pairs["image"][0], prompted)
    trainer = PromptSRC.__new__(PromptSRC)
    trainer.cfg, trainer.model = make_cfg("PROMPTSRC", **OPTS), learner
    loss, summary = trainer.compute_loss(logits, torch.tensor([0, 1]), batch=None)
    assert all(math.isfinite(v) and v >= 0 for v in summary.values()) and summary["scl_image"] > 0
    c = trainer.cfg.TRAINER.PROMPTSRC
    expected = (summary["ce"] + c.TEXT_LOSS_WEIGHT * summary["scl_text"] + c.IMAGE_LOSS_WEIGHT * summary["scl_image"]
                + summary["scl_logits"])
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert all(p.grad is not None for p in learner.prompt_learner.parameters())


@pytest.mark.parametrize("epochs,mean,std", [(20, 15, 1), (50, 30, 30), (20, 6, 10), (5, 3, 2)])
def test_gpa_weights_sum_to_one_and_peak_at_mean(epochs, mean, std):
    w = gpa_weights(epochs, mean, std)
    assert len(w) == epochs
    assert sum(w) == pytest.approx(1.0)
    assert max(range(epochs), key=w.__getitem__) == mean - 1  # epoch ``mean`` (1-based) weighs most


def test_gpa_weights_are_the_official_gaussian():
    """PromptSRC's GPA: epoch e weighs N(e; mean, std) = exp(-(e - mean)^2 / (2 std^2)) / sqrt(2 pi std^2),
    normalised over epochs 1..E (the official trainer's Gaussian). Written out for E=5, mean 3, std 2."""
    import math

    density = [math.exp(-((e - 3) ** 2) / (2 * 2 ** 2)) / math.sqrt(2 * math.pi * 2 ** 2) for e in range(1, 6)]
    expected = [d / sum(density) for d in density]
    assert gpa_weights(5, 3, 2) == pytest.approx(expected, rel=1e-12)
    assert gpa_weights(5, 3, 2)[0] / gpa_weights(5, 3, 2)[2] == pytest.approx(math.exp(-0.5), rel=1e-12)


def test_gpa_loads_weighted_average_after_last_epoch(tiny_clip, tmp_path, monkeypatch):
    from dpl.engine.trainer import SimpleTrainer

    saved = []
    monkeypatch.setattr(SimpleTrainer, "after_epoch", lambda self: saved.append(self.epoch))
    cfg = make_cfg("PROMPTSRC", **OPTS)
    trainer = PromptSRC.__new__(PromptSRC)
    trainer.cfg, trainer.output_dir, trainer.device = cfg, str(tmp_path), torch.device("cpu")
    trainer.model = trainer.build_learner(cfg, BASE, tiny_clip)
    trainer.gpa = gpa_weights(3, 2, 1)
    trainer.max_epoch = 3
    params = list(trainer.model.prompt_learner.parameters())
    for epoch in range(3):
        trainer.epoch = epoch
        with torch.no_grad():
            for p in params:
                p.fill_(epoch + 1.0)  # the prompts "after" this epoch
        trainer.after_epoch()
    expected = sum(w * (e + 1) for e, w in enumerate(trainer.gpa))
    for p in params:
        assert torch.allclose(p, torch.full_like(p, expected), atol=1e-6)
    assert saved == [0, 1, 2]  # the engine's checkpointing still runs (the last save holds the GPA prompts)
    trainer.scaler = None
    gpa = trainer.checkpoint_extras()["gpa"]  # the running sum travels in the epoch's checkpoint
    assert gpa["epochs_done"] == 3 and set(gpa["sum"]) == set(trainer.model.prompt_learner.state_dict())
