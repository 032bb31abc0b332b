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


@pytest.fixture(scope="module")
def recorded_search(data_root, tmp_path_factory):
    """A 2-epoch cycling search with its val iterators, step summaries, plot call and stdout recorded."""
    out = tmp_path_factory.mktemp("recorded_search")
    trainer = build(data_root, out, "DPLSearch", CYCLE)
    trainer.fingerprint = "fp-123"
    seen = {"iterators": 0, "summaries": [], "plots": []}
    fresh, step = trainer._fresh_val_iter, trainer.forward_backward

    def counted_iter():
        seen["iterators"] += 1
        return fresh()

    def recorded_step(batch):
        summary = step(batch)
        seen["summaries"].append(summary)
        return summary

    def recorded_plot(*args, **kwargs):
        seen["plots"].append((args, kwargs))

    trainer._fresh_val_iter, trainer.forward_backward = counted_iter, recorded_step
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
    assert seen["iterators"] == math.ceil(steps / n_val)  # a new one only when the last is spent


def test_a_resumed_cycle_skips_to_its_batch_once_then_walks_on(data_root, tmp_path):
    trainer = build(data_root, tmp_path, "DPLSearch", [*CYCLE, "DATALOADER.TEST.BATCH_SIZE", 2])
    expected = [b["index"].tolist() for b in trainer.dm.val_loader]
    n_val = len(expected)
    assert n_val > 3  # the skip ends mid-pass
    made = []
    fresh = trainer._fresh_val_iter
    trainer._fresh_val_iter = lambda: made.append(1) or fresh()
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
    made = []
    fresh = trainer._fresh_val_iter
    trainer._fresh_val_iter = lambda: made.append(1) or fresh()
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
