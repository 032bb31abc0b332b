"""What DPLSearch does around its two steps, each pinned against an independent expectation (a mutation run of
trainers/dpl_search.py left these unchecked): the supernet switches reaching the mixtures, where a resumed alpha
step is in the val split, one val iterator per pass, the alpha loss in the step summary, the per-epoch layout log,
and what the end of the search writes (layout fields, the plot's title, notes and history)."""
import contextlib
import io
import json
import math
import re

import pytest
import torch

import trainers.dpl_search as dpl_search
from dpl_harness import build

from dpl.search import diagnose, load_alpha_history

CYCLE = ["OPTIM.MAX_EPOCH", 2, "DATALOADER.TEST.BATCH_SIZE", 4, "TEST.NO_TEST", True,
         "TRAINER.DPL.ALPHA_BATCHES", "cycle"]


def count_val_iterators(trainer):
    """A list that grows by one each time ``trainer`` creates a val iterator."""
    made, fresh = [], trainer._fresh_val_iter
    trainer._fresh_val_iter = lambda: made.append(1) or fresh()
    return made


@pytest.fixture(scope="module")
def recorded_search(data_root, tmp_path_factory):
    """A 2-epoch cycling search with its val iterators, step summaries, plot call and stdout recorded."""
    out = tmp_path_factory.mktemp("recorded_search")
    trainer = build(data_root, out, "DPLSearch", CYCLE)
    trainer.fingerprint = "fp-123"
    seen = {"iterators": count_val_iterators(trainer), "summaries": [], "plots": []}
    step = trainer.forward_backward

    def recorded_step(batch):
        summary = step(batch)
        seen["summaries"].append(summary)
        return summary

    def recorded_plot(*args, **kwargs):
        seen["plots"].append((args, kwargs))

    trainer.forward_backward = recorded_step
    stdout = io.StringIO()
    real_plot = dpl_search.plot_search
    dpl_search.plot_search = recorded_plot
    try:
        with contextlib.redirect_stdout(stdout):
            trainer.train()
    finally:
        dpl_search.plot_search = real_plot
    return trainer, out, seen, stdout.getvalue()


def test_supernet_switches_reach_every_mixture(data_root, tmp_path):
    default = build(data_root, tmp_path / "default", "DPLSearch", ["TEST.NO_TEST", True])
    switched = build(data_root, tmp_path / "switched", "DPLSearch", ["TEST.NO_TEST", True,
                     "TRAINER.DPL.NAIVE_SUPERNET", True, "TRAINER.DPL.SUPERNET_RECOMPUTE", True])
    for learner, expected in ((default.model, False), (switched.model, True)):
        for mixture in learner.vision_prompts() + learner.text_prompts():
            assert mixture.naive is expected and mixture.recompute is expected


@pytest.mark.parametrize("epoch, warmup, batches, batch_idx, n_val, expected", [
    (3, 1, 5, 2, 100, 12),  # (epoch - warm-up) whole epochs of alpha steps, then this epoch's batches
    (1, 1, 5, 3, 100, 3),   # the first alpha epoch starts at the split's first batch
    (0, 1, 5, 3, 100, 3),   # never before it (warm-up epochs take no alpha steps)
    (3, 0, 5, 2, 7, 3),     # 17 steps into a split of 7 batches
])
def test_a_resumed_alpha_step_takes_the_val_batch_it_would_have_taken(data_root, tmp_path, epoch, warmup, batches,
                                                                      batch_idx, n_val, expected):
    trainer = build(data_root, tmp_path, "DPLSearch", ["TRAINER.DPL.ALPHA_WARMUP_EPOCHS", warmup])
    trainer.epoch, trainer.num_batches, trainer.batch_idx = epoch, batches, batch_idx
    trainer.dm.val_loader = [None] * n_val  # only its length is read
    assert trainer._val_position() == expected


def test_one_val_iterator_per_pass_through_the_split(recorded_search):
    trainer, _, seen, _ = recorded_search
    steps, n_val = len(trainer.alpha_batch_log), len(trainer.dm.val_loader)
    assert steps == 2 * trainer.num_batches and steps > n_val
    assert len(seen["iterators"]) == math.ceil(steps / n_val)  # a new one only when the last is spent


def test_a_resumed_cycle_skips_to_its_batch_once_then_walks_on(data_root, tmp_path):
    trainer = build(data_root, tmp_path, "DPLSearch", [*CYCLE, "DATALOADER.TEST.BATCH_SIZE", 2])
    expected = [b["index"].tolist() for b in trainer.dm.val_loader]
    n_val = len(expected)
    assert n_val > 3  # the skip ends mid-pass
    made = count_val_iterators(trainer)
    trainer.epoch, trainer.num_batches = 0, 100
    start = 2  # resumed after two alpha steps
    for step in range(start, start + 2 * n_val):
        trainer.batch_idx = step
        assert trainer.next_val_batch()["index"].tolist() == expected[step % n_val]
    assert len(made) == 1 + math.ceil((start + 2 * n_val) / n_val) - 1  # the skip's iterator, then one per wrap


def test_the_alpha_batch_log_keeps_the_last_1000_steps_and_names_unindexed_batches(data_root, tmp_path):
    trainer = build(data_root, tmp_path, "DPLSearch", ["TRAINER.DPL.ALPHA_BATCHES", "first"])
    first = next(iter(trainer.dm.val_loader))
    trainer.next_val_batch()
    assert trainer.alpha_batch_log.maxlen == 1000 and trainer.alpha_batch_log[-1] == first["index"].tolist()
    trainer._first_batch = {"img": first["img"], "label": first["label"], "impath": ["a.jpg", "b.jpg"]}
    trainer.next_val_batch()
    assert trainer.alpha_batch_log[-1] == ["a.jpg", "b.jpg"]


def test_the_first_val_batch_is_read_once(data_root, tmp_path):
    trainer = build(data_root, tmp_path, "DPLSearch", ["TRAINER.DPL.ALPHA_BATCHES", "first"])
    made = count_val_iterators(trainer)
    for _ in range(4):
        trainer.next_val_batch()
    assert len(made) == 1


def test_every_step_reports_its_alpha_loss(recorded_search):
    summaries = recorded_search[2]["summaries"]
    assert summaries and all(set(s) >= {"loss", "loss_alpha"} and math.isfinite(s["loss_alpha"]) for s in summaries)


def test_each_epoch_logs_the_layout_it_would_pick_with_its_probabilities(recorded_search):
    _, out, _, stdout = recorded_search
    for epoch in (1, 2):
        probs = json.loads((out / "alphas" / f"epoch_{epoch}.json").read_text())
        for branch in ("vision", "text"):
            p = torch.tensor(probs[branch])
            cells = " ".join(f"{int(row.argmax())}({float(row.max()):.2f})" for row in p)
            assert f"epoch {epoch} {branch} layout (p): {cells}\n" in stdout


def test_the_search_writes_its_layout_with_backbone_source_and_fingerprint(recorded_search):
    trainer, out, _, stdout = recorded_search
    saved = json.loads((out / "layout.json").read_text())
    assert saved["backbone"] == "tiny-random" and saved["source"] == str(out) and saved["fingerprint"] == "fp-123"
    assert saved["max_length"] == trainer.method_cfg.MAX_LENGTH
    assert f"Layout saved to {out / 'layout.json'}\n" in stdout


def test_the_plot_gets_the_final_probabilities_the_history_a_title_and_the_warnings(recorded_search):
    trainer, out, seen, _ = recorded_search
    (args, kwargs), = seen["plots"]
    probs = trainer.model.architecture.probabilities()
    assert set(args[0]) == {"vision", "text"}
    assert all((torch.from_numpy(args[0][b]) == probs[b].float()).all() for b in probs)
    history = load_alpha_history(str(out))
    assert len(args[1]) == len(history) == 2
    assert args[2] == str(out / "layout.png")
    d, cfg = trainer.cfg.DATASET, trainer.cfg
    assert kwargs["title"] == f"DPL search: {d.NAME}, tiny-random, {d.NUM_SHOTS} shots, seed {cfg.SEED}"
    c = trainer.method_cfg
    assert kwargs["notes"] == diagnose(probs, c.COLLAPSE_ZERO_FRACTION, c.UNDECIDED_MARGIN).warnings


def test_a_search_without_a_fingerprint_writes_none_and_a_dataset_folder_enters_the_title(recorded_search,
                                                                                         monkeypatch, tmp_path):
    trainer = recorded_search[0]
    plots = []
    monkeypatch.setattr(dpl_search, "plot_search", lambda *a, **k: plots.append(k["title"]))
    monkeypatch.setattr(trainer, "fingerprint", None)
    monkeypatch.setattr(trainer, "output_dir", str(tmp_path))
    trainer.cfg.defrost()
    folder = trainer.cfg.DATASET.FOLDER
    trainer.cfg.DATASET.FOLDER = "sketch"
    try:
        trainer.finish_search()
    finally:
        trainer.cfg.DATASET.FOLDER = folder
        trainer.cfg.freeze()
    assert re.match(rf"DPL search: {trainer.cfg.DATASET.NAME} \(sketch\), tiny-random, ", plots[0])
    assert "fingerprint" not in json.loads((tmp_path / "layout.json").read_text())


# ---- the search learner and what the trainer hands it ---------------------------------------------------------
BASE = ["dog", "cat", "golden_retriever"]


def test_search_learner_defaults_are_the_config_defaults(tiny_clip):
    from trainer_harness import make_cfg
    from trainers.dpl_search import SearchLearner

    c = make_cfg().TRAINER.DPL
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        default = SearchLearner(tiny_clip, BASE, 2)
        torch.manual_seed(0)
        configured = SearchLearner(tiny_clip, BASE, 2, c.SEARCH_CTX_INIT, c.PROMPT_STD, c.NAIVE_SUPERNET,
                                   c.SUPERNET_RECOMPUTE, c.SEARCH_INIT)
    assert torch.equal(default.text_embeddings, configured.text_embeddings)
    assert (default.naive, default.recompute) == (configured.naive, configured.recompute) == (False, False)
    space = default.prompt_learner
    assert (space.init, space.std) == (c.SEARCH_INIT, c.PROMPT_STD) == ("official", 0.02)
    for a, b in zip(default.state_dict().values(), configured.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_the_search_draws_its_initial_values_once_in_the_official_order(tiny_clip):
    """trainersupernet.py: image alphas 1e-3 * randn(L, N + 1), then every vision candidate (layer by layer,
    lengths 1..N) from randn, then the text alphas, then every text candidate from rand; nothing drawn twice."""
    from trainers.dpl import FixedTextLearner
    from trainers.dpl_search import SearchLearner

    n, clip = 2, tiny_clip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        learner = SearchLearner(clip, BASE, n)
        after = torch.get_rng_state()
        torch.manual_seed(0)
        FixedTextLearner(clip, BASE, "default", "TRAINER.DPL.SEARCH_CTX_INIT")  # whatever the text input draws
        alphas, candidates = {}, {}
        for branch, layers, width, draw in (("vision", clip.vision_layers, clip.vision_width, torch.randn),
                                            ("text", clip.text_layers, clip.text_width, torch.rand)):
            alphas[branch] = 1e-3 * torch.randn(layers, n + 1)
            candidates[branch] = [draw(k, width) for layer in range(layers) for k in range(1, n + 1)]
        assert torch.equal(torch.get_rng_state(), after)
    for branch in ("vision", "text"):
        assert torch.equal(getattr(learner.architecture, branch).detach(), alphas[branch])
        got = [learner.prompt_learner.candidates(branch, layer)[k - 1].detach()
               for layer in range(learner.prompt_learner.layers[branch]) for k in range(1, n + 1)]
        assert all(torch.equal(a, b) for a, b in zip(got, candidates[branch], strict=True))


def test_normal_candidates_take_prompt_std(data_root, tmp_path):
    trainer = build(data_root, tmp_path, "DPLSearch", ["TRAINER.DPL.SEARCH_INIT", "normal",
                                                       "TRAINER.DPL.PROMPT_STD", 0.5])
    values = torch.cat([p.detach().flatten() for p in trainer.model.prompt_learner.parameters()])
    assert values.numel() > 1000 and abs(values.std().item() - 0.5) < 0.05


def test_the_alpha_optimizer_is_adam_with_the_alpha_settings(data_root, tmp_path):
    trainer = build(data_root, tmp_path, "DPLSearch", ["TRAINER.DPL.ALPHA_BETAS", "(0.6, 0.9)",
                                                       "TRAINER.DPL.ALPHA_WEIGHT_DECAY", 0.01])
    optim = trainer._optims["architecture"]
    group, = optim.param_groups
    assert type(optim) is torch.optim.Adam and group["params"] == list(trainer.model.architecture.parameters())
    assert (group["lr"], group["betas"], group["weight_decay"]) == (0.05, (0.6, 0.9), 0.01)


def test_the_log_says_how_candidates_start_and_which_val_batches_the_alphas_see(data_root, tmp_path, capsys):
    build(data_root, tmp_path / "first", "DPLSearch")
    assert ("Search candidates: official initialisation; alpha steps on the first validation batch every step\n"
            in capsys.readouterr().out)
    build(data_root, tmp_path / "cycle", "DPLSearch", ["TRAINER.DPL.ALPHA_BATCHES", "cycle",
                                                       "TRAINER.DPL.SEARCH_INIT", "normal"])
    assert ("Search candidates: normal initialisation; alpha steps on the validation batches in turn\n"
            in capsys.readouterr().out)


def test_a_dataset_without_a_val_split_is_refused(data_root, tmp_path):
    from dpl.errors import ConfigError

    trainer = build(data_root, tmp_path, "DPLSearch")
    trainer.dm.val_loader = None
    with pytest.raises(ConfigError) as e:
        trainer.build_learner(trainer.cfg, BASE, trainer.clip)
    assert str(e.value) == (f"Dataset {trainer.cfg.DATASET.NAME} has no validation split; the DPL search updates "
                            "its alphas on validation batches (use a dataset with a val split)")


@pytest.mark.parametrize("batch, refused", [(3, True), (5, False)])
def test_cycling_over_processes_needs_full_val_batches(data_root, tmp_path, monkeypatch, batch, refused):
    from dpl.errors import ConfigError

    trainer = build(data_root, tmp_path, "DPLSearch", ["TRAINER.DPL.ALPHA_BATCHES", "cycle",
                                                       "DATALOADER.TEST.BATCH_SIZE", batch])
    size = len(trainer.dm.dataset.val)
    assert size == 10
    monkeypatch.setattr(dpl_search.distributed, "is_distributed", lambda: True)
    monkeypatch.setattr(dpl_search.distributed, "world_size", lambda: 2)
    if not refused:
        trainer.build_learner(trainer.cfg, BASE, trainer.clip)
        return
    with pytest.raises(ConfigError) as e:
        trainer.build_learner(trainer.cfg, BASE, trainer.clip)
    assert str(e.value) == (
        "TRAINER.DPL.ALPHA_BATCHES cycle with 2 data-parallel processes needs full validation batches, but the 10 "
        "validation images leave a last batch of 1 (DATALOADER.TEST.BATCH_SIZE 3): its split over the processes "
        "would not reproduce one process's search. Use ALPHA_BATCHES first, a batch size dividing 10, or one process.")
    trainer.cfg.defrost()
    trainer.cfg.TRAINER.DPL.ALPHA_BATCHES = "first"  # the official batches: nothing to split unevenly
    trainer.build_learner(trainer.cfg, BASE, trainer.clip)
