"""DPL behaviours the mutation run (docs/testing.md, "Mutation score") found unpinned: the learner's defaults and
prompt std, the RNG draws that stand for the official teacher load, the no-layout error and the layout log line,
the teacher following the trainer's device."""
import clip.model
import pytest
import torch
from trainer_harness import build_learner, make_cfg

from dpl.errors import ConfigError
from dpl.prompting import PromptLayout
from trainers.dpl import DPL, DPLLearner, ZeroShotTeacher, advance_rng_as_teacher_load

BASE = ["dog", "cat", "golden_retriever"]


def layout_of(clip_model, length=2):
    return PromptLayout.uniform(length, clip_model.vision_layers, clip_model.text_layers, max_length=length)


def test_learner_defaults_are_the_config_defaults(tiny_clip):
    """A DPLLearner built without ctx_init / std is the one the trainer builds from TRAINER.DPL's defaults."""
    c = make_cfg().TRAINER.DPL
    layout = layout_of(tiny_clip)
    with torch.random.fork_rng(devices=[]):  # the same draws for both, and the session's RNG left as it was
        torch.manual_seed(0)
        default = DPLLearner(tiny_clip, BASE, layout)
        torch.manual_seed(0)
        configured = DPLLearner(tiny_clip, BASE, layout, c.CTX_INIT, c.PROMPT_STD)
    assert torch.equal(default.text_embeddings, configured.text_embeddings)
    assert torch.equal(default.text_eot, configured.text_eot)
    for a, b in zip(default.prompt_learner.parameters(), configured.prompt_learner.parameters(), strict=True):
        assert torch.equal(a, b)


def test_prompt_std_reaches_the_prompts(tiny_clip):
    cfg = make_cfg("DPL", layout="uniform:4", PROMPT_STD=0.5, MAX_LENGTH=4, CTX_INIT="default")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        learner = build_learner("DPL", cfg, tiny_clip, BASE)
    values = torch.cat([p.detach().flatten() for p in learner.prompt_learner.parameters()])
    assert values.numel() > 1000
    assert abs(values.std().item() - 0.5) < 0.05  # N(0, PROMPT_STD), not the 0.02 default


def test_build_learner_without_a_layout_names_the_key(tiny_clip):
    """check_cfg guards the trainer; build_learner called on its own still says what is missing."""
    with pytest.raises(ConfigError, match=r"TRAINER.LAYOUT is not set; run the search first"):
        build_learner("DPL", make_cfg("DPL", layout=""), tiny_clip, BASE)


def test_build_learner_logs_the_layout(tiny_clip, capsys):
    learner = build_learner("DPL", make_cfg("DPL", layout="uniform:2", CTX_INIT="default"), tiny_clip, BASE)
    assert f"DPL layout: {learner.layout.summary()}\n" in capsys.readouterr().out
    assert learner.layout.num_tokens("vision") == 2 * tiny_clip.vision_layers  # the learner keeps its layout


def constructor_draws(model):
    """The global RNG numbers one clip.model.build_model of ``model``'s weights consumes, measured on a copy."""
    with torch.random.fork_rng(devices=[]):
        start = torch.get_rng_state()
        clip.model.build_model(dict(model.state_dict()))
        return start, torch.get_rng_state()


@pytest.mark.parametrize("wrapped", [True, False], ids=["PromptedCLIP", "clip.model.CLIP"])
def test_teacher_load_draws_what_a_clip_constructor_draws(tiny_clip, wrapped):
    start, expected = constructor_draws(tiny_clip.model)
    assert not torch.equal(start, expected)  # the constructor does draw
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(start)
        advance_rng_as_teacher_load(tiny_clip if wrapped else tiny_clip.model)
        assert torch.equal(torch.get_rng_state(), expected)


def test_teacher_load_draws_nothing_for_other_families(tiny_clip):
    other = torch.nn.Linear(2, 2)  # not an OpenAI CLIP (the official code loads no other family)
    before = torch.get_rng_state()
    advance_rng_as_teacher_load(other)
    assert torch.equal(torch.get_rng_state(), before)


def test_build_learner_advances_the_rng_as_the_official_teacher_load(tiny_clip, monkeypatch):
    built = []
    monkeypatch.setattr(clip.model, "build_model", lambda state_dict: built.append(state_dict))
    build_learner("DPL", make_cfg("DPL", layout="uniform:2", CTX_INIT="default"), tiny_clip, BASE)
    assert len(built) == 1 and set(built[0]) == set(tiny_clip.model.state_dict())


def test_build_model_moves_the_teacher_to_the_trainer_device(tiny_clip, monkeypatch):
    from dpl.method.trainer_base import PromptTrainer

    monkeypatch.setattr(PromptTrainer, "build_model", lambda self: None)  # the learner part is tested elsewhere
    trainer = DPL.__new__(DPL)
    trainer.teacher = ZeroShotTeacher(tiny_clip, BASE)
    trainer.device = torch.device("meta")  # any device other than the CPU the features were computed on
    trainer.build_model()
    assert trainer.teacher.text_features.device.type == "meta"
