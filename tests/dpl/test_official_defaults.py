"""Official behaviours pinned from their definitions (not from our own output): the search candidates' initial
distributions, the KD scale on a hand-computed case, PromptSRC's frozen text target, and CoOp / CoCoOp's initial
context for a seed."""
import math

import pytest
import torch
import torch.nn.functional as F
from trainer_harness import build

from dpl.prompting import SearchSpace
from trainers.dpl import kd_loss


def test_official_search_init_is_standard_normal_vision_and_uniform_text():
    torch.manual_seed(0)
    space = SearchSpace(4, 4, 256, 128, 6, init="official")
    vision = torch.cat([p.flatten() for p in space.vision.values()])
    text = torch.cat([p.flatten() for p in space.text.values()])
    assert abs(vision.mean()) < 0.02 and abs(vision.std() - 1.0) < 0.02  # randn
    assert text.min() >= 0.0 and text.max() < 1.0  # rand: U[0, 1)
    assert abs(text.mean() - 0.5) < 0.01 and abs(text.std() - math.sqrt(1 / 12)) < 0.01
    normal = SearchSpace(4, 4, 256, 128, 6, std=0.02, init="normal")
    both = torch.cat([p.flatten() for p in normal.parameters()])
    assert abs(both.std() - 0.02) < 0.001 and abs(both.mean()) < 0.001
    with pytest.raises(ValueError, match="init"):
        SearchSpace(1, 1, 8, 8, 2, init="xavier")


def test_kd_scale_official_and_batchmean_on_a_hand_computed_case():
    student = torch.zeros(2, 2)
    teacher = torch.log(torch.tensor([[0.75, 0.25], [0.75, 0.25]]))
    kl_row = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)  # KL(teacher || student) of one row
    # official: F.kl_div(..., reduction="sum") * T * T / logits.numel() -> 2 rows / 4 logits
    assert kd_loss(student, teacher, 1.0) == pytest.approx(2 * kl_row / 4)
    assert kd_loss(student, teacher, 1.0, "batchmean") == pytest.approx(2 * kl_row / 2)
    t = 2.0
    p_t, p_s = torch.softmax(teacher / t, -1), torch.softmax(student / t, -1)
    row = float((p_t * (p_t / p_s).log()).sum(-1)[0])
    assert kd_loss(student, teacher, t) == pytest.approx(2 * row * t * t / 4)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("official_data")


def test_promptsrc_text_target_is_the_mean_of_raw_fp32_features_then_normalised(data_root, tmp_path):
    """Official PromptSRC: an fp32 copy of CLIP encodes every class with each of the 60 templates; the raw features
    are averaged over the templates, then normalised (not normalised per template first)."""
    import clip

    from dpl.backbones.loading import load_clip
    from dpl.method.templates import IMAGENET_TEMPLATES_60

    trainer = build("PromptSRC", data_root, tmp_path, "fp16")
    target = trainer.model.frozen_text()
    fp32 = load_clip("tiny-random", dtype=torch.float32)  # tiny-random's weights are fp16-exact, like OpenAI's files
    names = [c.replace("_", " ") for c in trainer.dm.dataset.classnames]
    with torch.no_grad():
        raw = torch.stack([fp32.encode_text(clip.tokenize([t.replace("{}", n) for n in names]))
                           for t in IMAGENET_TEMPLATES_60])
    expected = F.normalize(raw.mean(dim=0), dim=-1)
    assert torch.allclose(target.float(), expected, atol=1e-5)
    per_template = F.normalize(F.normalize(raw, dim=-1).mean(dim=0), dim=-1)
    assert not torch.allclose(target.float(), per_template, atol=1e-5)  # the other recipe is measurably different


@pytest.mark.parametrize("name,precision", [("CoOp", "fp32"), ("CoOp", "fp16"), ("CoCoOp", "fp16")])
def test_random_context_for_a_seed_is_coops(name, precision, data_root, tmp_path):
    """CoOp's algorithm: seed, build CLIP (``clip.build_model`` initialises a stock CLIP, drawing from the global
    RNG, then loads the weights), then the context as nn.init.normal_(std=0.02) of an (n_ctx, width) tensor in
    CLIP's dtype."""
    from dpl.engine.utils import set_random_seed
    from dpl.method.official_draws import replay_clip_constructor

    opts = ["TRAINER.COCOOP.CTX_INIT", ""] if name == "CoCoOp" else []
    trainer = build(name, data_root, tmp_path, precision, opts, seed=3)
    learner = trainer.model.prompt_learner
    ctx = learner.ctx if name == "CoOp" else learner.context.ctx
    set_random_seed(3)
    replay_clip_constructor(trainer.clip.model)
    expected = torch.empty(ctx.shape, dtype=trainer.clip.dtype)
    torch.nn.init.normal_(expected, std=0.02)
    assert torch.equal(ctx.detach().cpu(), expected)


def test_context_from_ctx_init_is_the_words_embedding(data_root, tmp_path):
    import clip

    trainer = build("CoOp", data_root, tmp_path, "fp16", ["TRAINER.COOP.CTX_INIT", "a photo of a",
                                                          "TRAINER.COOP.N_CTX", 4])
    model = trainer.clip.model
    with torch.no_grad():
        expected = model.token_embedding(clip.tokenize("a photo of a")).type(model.dtype)[0, 1:5]
    assert torch.equal(trainer.model.prompt_learner.ctx.detach(), expected)


def test_dpl_config_defaults_are_the_official_settings():
    """Every TRAINER.DPL default, for a yaml that leaves a key out: the official configs' fp32 and N = 6, the official
    train stage's ensemble text input, the official search's init, alpha batch, Adam and KD scale, no warm-up, the
    fused supernet, and the search log's warning thresholds."""
    from dpl.runs.config import get_cfg

    c = dict(get_cfg().TRAINER.DPL)
    c["ALPHA_BETAS"] = tuple(c["ALPHA_BETAS"])
    assert c == dict(
        PREC="fp32", MAX_LENGTH=6, PROMPT_STD=0.02, CTX_INIT="ensemble", SEARCH_CTX_INIT="default",
        SEARCH_INIT="official", ALPHA_BATCHES="first", ALPHA_LR=3.5e-3, ALPHA_BETAS=(0.5, 0.999),
        ALPHA_WEIGHT_DECAY=0.0, ALPHA_WARMUP_EPOCHS=0, NAIVE_SUPERNET=False, SUPERNET_RECOMPUTE=False,
        KD_WEIGHT=0.0, KD_TEMPERATURE=1.0, KD_REDUCTION="numel", COLLAPSE_ZERO_FRACTION=0.75, UNDECIDED_MARGIN=0.05)
