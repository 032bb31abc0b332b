"""Every trainer end to end on an open_clip backbone (``open_clip:dpl-tiny``, a small native ViT with seeded random
weights): train.py completes a demo run of each, the search's layout has one entry per layer of the open_clip towers
and DPL trains on it, and a trained model evaluates again to the same accuracy."""
import json

import pytest

from e2e_helpers import FAST_OPTS, run_train_many

pytest.importorskip("open_clip")

from trainer_harness import PER_TRAINER, TRAINERS  # noqa: E402

BACKBONE = ["--backbone", "open_clip:dpl-tiny"]
OPTS = [*FAST_OPTS, "OPTIM.MAX_EPOCH", "1", "MODEL.BACKBONE.PRETRAINED", "random"]


def _args(data_root, out, trainer, *extra):
    return ["--root", data_root, "--seed", 1, "--trainer", trainer, *BACKBONE, "--dataset-config-file",
            "configs/datasets/demo.yaml", "--config-file", f"configs/trainers/{TRAINERS[trainer][1]}",
            "--output-dir", out, *extra]


@pytest.fixture(scope="module")
def runs(data_root, tmp_path_factory):
    """All runs in one train_many.py process: every trainer, DPL on the searched layout, CoOp evaluated again."""
    tmp = tmp_path_factory.mktemp("open_clip")
    out = {name: tmp / name for name in TRAINERS}
    out["CoOp-eval"] = tmp / "CoOp-eval"
    argvs = []
    for name in TRAINERS:
        extra = list(PER_TRAINER.get(name, []))
        if name == "DPL":
            i = extra.index("TRAINER.LAYOUT")
            extra[i + 1] = str(out["DPLSearch"] / "layout.json")
        mode = ["--eval-only"] if name == "ZeroshotCLIP" else []
        argvs.append(_args(data_root, out[name], name, *mode, *OPTS, *extra))
    argvs.append(_args(data_root, out["CoOp-eval"], "CoOp", "--eval-only", "--model-dir", out["CoOp"],
                       "--load-epoch", 1, *OPTS))
    codes, _, proc = run_train_many(argvs, tmp / "train_many")
    return dict(zip([*TRAINERS, "CoOp-eval"], codes)), out, proc


@pytest.mark.parametrize("trainer", list(TRAINERS))
def test_every_trainer_completes_a_demo_run(runs, trainer):
    codes, out, proc = runs
    log = (out[trainer] / "log.txt").read_text() if (out[trainer] / "log.txt").exists() else proc.stderr[-3000:]
    assert codes[trainer] == 0, log[-3000:]
    assert "Image preprocessing of open_clip:dpl-tiny: size (224, 224)" in log
    if trainer == "DPLSearch":
        layout = json.loads((out[trainer] / "layout.json").read_text())
        assert (len(layout["vision"]), len(layout["text"])) == (4, 3)  # the open_clip towers' depths
        return
    assert "=> result" in log.splitlines() and "* accuracy:" in log
    results = json.loads((out[trainer] / "results.json").read_text())
    assert results["backbone"] == "open_clip:dpl-tiny" and results["trainer"] == trainer


def test_dpl_trains_on_the_layout_searched_on_open_clip(runs):
    codes, out, _ = runs
    assert codes["DPL"] == 0
    assert json.loads((out["DPL"] / "results.json").read_text())["layout"] == str(out["DPLSearch"] / "layout.json")


def test_a_trained_model_evaluates_again_to_the_same_accuracy(runs):
    codes, out, _ = runs
    assert codes["CoOp-eval"] == 0
    trained = json.loads((out["CoOp"] / "results.json").read_text())
    again = json.loads((out["CoOp-eval"] / "results.json").read_text())
    assert again["accuracy"] == pytest.approx(trained["accuracy"], abs=1e-6) and again["eval_only"] is True
