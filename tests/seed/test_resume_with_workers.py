"""Dassl's augmentation stream with workers: a run killed at an epoch's end resumes to the uninterrupted result, since
the checkpoint carries the global RNG state from which each epoch's workers are seeded."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "resume"))
from kill_points import SimulatedKill, arm_kill_at_rename  # noqa: E402
from trainer_harness import build, learned_state  # noqa: E402

OPTS = ["OPTIM.MAX_EPOCH", 3, "TRAIN.CHECKPOINT_FREQ", 1, "TEST.NO_TEST", True, "DATALOADER.NUM_WORKERS", 2,
        "DATASET.NUM_SHOTS", 4]


def test_killed_search_with_two_workers_resumes_to_the_same_result(data_root, tmp_path, monkeypatch):
    straight = build("DPLSearch", data_root, tmp_path / "straight", opts=OPTS)
    assert not straight.cfg.DATALOADER.PER_SAMPLE_SEEDS and straight.cfg.DATALOADER.NUM_WORKERS == 2
    straight.train()
    expected = learned_state(straight)

    out = tmp_path / "killed"
    with monkeypatch.context() as patch:
        first = build("DPLSearch", data_root, out, opts=OPTS)
        kill = arm_kill_at_rename(patch, first, 2, 1)
        try:
            first.train()
        except SimulatedKill:
            pass
    assert "killed_at" in kill
    resumed = build("DPLSearch", data_root, out, opts=OPTS)
    resumed.train()
    state = learned_state(resumed)
    assert state.keys() == expected.keys()
    for key in expected:
        assert torch.equal(state[key], expected[key]), key
