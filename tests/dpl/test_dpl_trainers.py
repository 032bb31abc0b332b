"""DPLSearch and DPL on the Demo dataset with tiny-random: search outputs, fresh val batches, checkpoints
with alphas, exact resume, prompt-only checkpoints, text features once per evaluation, optional KD."""
import json
import os
import re

import pytest
import torch

from dpl_harness import build
from trainer_harness import train_until_interrupted

from dpl.errors import ConfigError

# cycle: the alpha steps walk through the val split (the official "first" is tested on its own below)
SEARCH_OPTS = ["OPTIM.MAX_EPOCH", 2, "DATALOADER.TEST.BATCH_SIZE", 4, "TRAIN.CHECKPOINT_FREQ", 1, "TEST.NO_TEST", True,
               "TRAINER.DPL.ALPHA_BATCHES", "cycle"]


def learned_state(trainer):
    return {f"{name}.{k}": v.detach().clone() for name in ("prompt_learner", "architecture")
            for k, v in trainer._models[name].state_dict().items()}


@pytest.fixture(scope="module")
def search_run(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("search")
    trainer = build(data_root, out, "DPLSearch", [*SEARCH_OPTS, "TEST.NO_TEST", False])  # + supernet test
    initial = {k: v.detach().clone() for k, v in trainer.model.architecture.state_dict().items()}
    trainer.train()
    return trainer, out, initial


def test_search_changes_alphas_and_writes_outputs(search_run):
    from dpl.prompting import PromptLayout

    trainer, out, initial = search_run
    final = trainer.model.architecture.state_dict()
    assert all(not torch.equal(initial[k], final[k]) for k in initial)
    clip = trainer.clip
    layout = PromptLayout.load(str(out / "layout.json"), clip.vision_layers, clip.text_layers, max_length=2)
    assert len(layout.vision) == clip.vision_layers and len(layout.text) == clip.text_layers
    probs = trainer.model.architecture.probabilities()
    assert layout.vision == probs["vision"].argmax(-1).tolist() and layout.text == probs["text"].argmax(-1).tolist()
    for epoch in (1, 2):
        data = json.loads((out / "alphas" / f"epoch_{epoch}.json").read_text())
        assert set(data) == {"vision", "text"}
        assert len(data["vision"]) == clip.vision_layers and len(data["text"]) == clip.text_layers
        assert all(len(row) == 3 and abs(sum(row) - 1) < 1e-5 for row in data["vision"] + data["text"])
    assert torch.allclose(torch.tensor(data["vision"]), probs["vision"].float().cpu(), atol=1e-6)
    assert (out / "layout.png").read_bytes()[:4] == b"\x89PNG"
    assert trainer.last_results  # the supernet was evaluated on the test split after the search
    assert (out / "layout.json").stat().st_mtime >= (out / "layout.png").stat().st_mtime


def test_alpha_step_draws_a_fresh_val_batch_each_step(search_run):
    trainer = search_run[0]
    log = list(trainer.alpha_batch_log)
    n_val = len(trainer.dm.val_loader)
    assert n_val > 1 and (2 * trainer.num_batches) > n_val and trainer.num_batches % n_val  # wraps mid-epoch
    assert len(log) == 2 * trainer.num_batches
    flat = [tuple(b) for b in log]
    for i in range(1, len(flat)):  # consecutive steps see different batches unless there is only one
        if n_val > 1:
            assert flat[i] != flat[i - 1]
    expected = [tuple(b["index"].tolist()) for b in trainer.dm.val_loader]
    assert flat == [expected[i % n_val] for i in range(len(flat))]  # cycles, restarting at the end


def test_first_alpha_batches_repeat_the_first_val_batch_and_draw_like_a_fresh_iterator(data_root, tmp_path):
    """ALPHA_BATCHES first (the official default): every alpha step sees the first val batch, and the global RNG
    advances exactly as creating a new val iterator per step (the official code's next(iter(val_loader)))."""
    trainer = build(data_root, tmp_path, "DPLSearch", ["DATALOADER.TEST.BATCH_SIZE", 4])
    assert trainer.method_cfg.ALPHA_BATCHES == "first" and len(trainer.dm.val_loader) > 1
    first = next(iter(trainer.dm.val_loader))
    torch.manual_seed(123)
    batches = [trainer.next_val_batch() for _ in range(5)]
    state = torch.get_rng_state()
    torch.manual_seed(123)
    for _ in range(5):
        iter(trainer.dm.val_loader)
    assert torch.equal(state, torch.get_rng_state())
    for batch in batches:
        assert batch["index"].tolist() == first["index"].tolist() and torch.equal(batch["img"], first["img"])
    assert [tuple(b) for b in trainer.alpha_batch_log] == [tuple(first["index"].tolist())] * 5


def test_checkpoint_round_trip_restores_alphas(search_run, data_root, tmp_path):
    trainer, out, _ = search_run
    path = out / "architecture" / "model.pth.tar-2"
    assert path.is_file()
    fresh = build(data_root, tmp_path, "DPLSearch", SEARCH_OPTS)
    assert not torch.equal(fresh.model.architecture.vision, trainer.model.architecture.vision)
    fresh.load_model(str(out), epoch=2)
    for name in ("vision", "text"):
        restored, saved = getattr(fresh.model.architecture, name), getattr(trainer.model.architecture, name)
        assert torch.equal(restored.cpu(), saved.cpu())
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert set(ckpt["state_dict"]) == {"vision", "text"} and ckpt["optimizer"] is not None


def test_resumed_search_ends_equal_to_uninterrupted(search_run, data_root, tmp_path):
    reference = learned_state(search_run[0])
    first = build(data_root, tmp_path, "DPLSearch", SEARCH_OPTS)
    train_until_interrupted(first)
    assert not (tmp_path / "layout.json").exists()
    resumed = build(data_root, tmp_path, "DPLSearch", SEARCH_OPTS)
    resumed.train()
    state = learned_state(resumed)
    assert state.keys() == reference.keys()
    for k in reference:
        assert torch.allclose(state[k], reference[k], atol=1e-6), k
    assert (tmp_path / "layout.json").read_text().split('"source"')[0] == \
        (search_run[1] / "layout.json").read_text().split('"source"')[0]


# ---- train stage --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def layout_file(tmp_path_factory):
    from dpl.backbones.loading import build_tiny_clip
    from dpl.prompting import PromptedCLIP, PromptLayout

    clip = PromptedCLIP(build_tiny_clip())
    vision = [2] + [0] * (clip.vision_layers - 1)
    text = [0] * (clip.text_layers - 1) + [1]
    path = tmp_path_factory.mktemp("layout") / "layout.json"
    PromptLayout(vision, text, max_length=2, backbone="tiny-random").save(str(path))
    return str(path), vision, text, clip.vision_width, clip.text_width


@pytest.fixture(scope="module")
def train_run(data_root, layout_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("dpl_train")
    trainer = build(data_root, out, "DPL", ["TRAINER.LAYOUT", layout_file[0], "TEST.NO_TEST", True])
    trainer.train()
    return trainer, out


def test_train_checkpoint_holds_only_the_prompts(train_run, layout_file):
    trainer, out = train_run
    _, vision, text, v_width, t_width = layout_file
    assert sorted(os.listdir(out / "prompt_learner")) and not (out / "architecture").exists()
    state = torch.load(out / "prompt_learner" / "model.pth.tar-1", map_location="cpu", weights_only=True)["state_dict"]
    expected = {f"vision.{i}": (k, v_width) for i, k in enumerate(vision) if k} | \
               {f"text.{i}": (k, t_width) for i, k in enumerate(text) if k}
    # parameter names hold the branch and the layer index (e.g. "vision.0" / "prompts.vision_0")
    found = {}
    for key, value in state.items():
        m = re.search(r"(vision|text)\D*(\d+)$", key)
        assert m, f"unexpected key in the prompt checkpoint: {key}"
        found[f"{m.group(1)}.{m.group(2)}"] = tuple(value.shape)
    assert found == expected


def test_eval_computes_text_features_once(train_run):
    trainer = train_run[0]
    assert len(trainer.test_loader) > 1
    calls = []
    original = trainer.model.class_text_features
    trainer.model.class_text_features = lambda: calls.append(1) or original()
    try:
        trainer.test()
    finally:
        del trainer.model.class_text_features
    assert len(calls) == 1


def test_kd_off_builds_no_teacher_and_on_changes_the_loss(train_run, data_root, layout_file, tmp_path):
    plain = train_run[0]
    assert plain.teacher is None
    batch = next(iter(plain.train_loader_x))
    image, label = plain.parse_batch_train(batch)
    with torch.no_grad():
        output = plain.model(image)
    ce, extra = plain.compute_loss(output, label, batch)
    assert extra == {} and torch.allclose(ce, torch.nn.functional.cross_entropy(output, label))

    kd = build(data_root, tmp_path, "DPL", ["TRAINER.LAYOUT", layout_file[0], "TRAINER.DPL.KD_WEIGHT", 1.0])
    assert kd.teacher is not None and kd.teacher.clip[0] is kd.clip
    assert sum(p.numel() for p in kd.teacher.parameters()) == 0  # no second CLIP copy
    with torch.no_grad():
        out_kd = kd.model(image)
        loss, extra = kd.compute_loss(out_kd, label, batch)
    assert extra["loss_kd"] > 0
    assert loss.item() == pytest.approx(extra["loss_ce"] + extra["loss_kd"], rel=1e-5)


def test_dpl_without_layout_is_a_config_error(data_root, tmp_path):
    with pytest.raises(ConfigError, match=r"TRAINER\.LAYOUT.*DPLSearch"):
        build(data_root, tmp_path, "DPL")


def test_alpha_warmup_epochs_train_only_the_prompts(data_root, tmp_path):
    trainer = build(data_root, tmp_path, "DPLSearch", ["TRAINER.DPL.ALPHA_WARMUP_EPOCHS", 1, "TEST.NO_TEST", True])
    alphas = trainer.model.architecture.vision.detach().clone()
    prompts = trainer.model.prompt_learner.state_dict()
    prompts = {k: v.clone() for k, v in prompts.items()}
    trainer.train()
    assert torch.equal(trainer.model.architecture.vision.detach(), alphas)
    assert not getattr(trainer, "alpha_batch_log", None)
    assert any(not torch.equal(v, trainer.model.prompt_learner.state_dict()[k]) for k, v in prompts.items())


def test_the_search_log_warns_when_it_collapsed_or_is_undecided(data_root, tmp_path, capsys):
    """README: the log warns when most layers chose length 0 (COLLAPSE_ZERO_FRACTION) or the choices are undecided
    (UNDECIDED_MARGIN). Thresholds every search meets print both warnings; the defaults print neither here."""
    strict = build(data_root, tmp_path / "strict", "DPLSearch", ["TRAINER.DPL.COLLAPSE_ZERO_FRACTION", 0.0,
                                                                 "TRAINER.DPL.UNDECIDED_MARGIN", 1.0, "TEST.NO_TEST", True])
    capsys.readouterr()
    strict.train()
    out = capsys.readouterr().out
    assert "search collapsed:" in out and "COLLAPSE_ZERO_FRACTION 0.0" in out
    assert "search undecided:" in out and "UNDECIDED_MARGIN 1.0" in out
    quiet = build(data_root, tmp_path / "quiet", "DPLSearch", ["TRAINER.DPL.UNDECIDED_MARGIN", 0.0, "TEST.NO_TEST", True])
    capsys.readouterr()
    quiet.train()
    out = capsys.readouterr().out
    assert "Searched layout:" in out and "search undecided:" not in out
