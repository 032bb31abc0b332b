"""``train.py --eval-only --model-dir DIR --load-epoch E`` on folders as the official codebases write them (Dassl's
file layout, each codebase's folder and parameter names): every one prints the usual result block, with the
accuracy of the same prompt values saved under this project's own names."""
import json
import sys

import pytest
import torch

from e2e_helpers import FAST_OPTS, REPO, run_train_many

sys.path.insert(0, str(REPO / "tests" / "checkpoints"))
from official_layouts import BUILDERS, FOLDERS, OPTS, Dims, write_dassl_checkpoint  # noqa: E402
from trainer_harness import PER_TRAINER, TRAINERS  # noqa: E402

EPOCH = 3


def _eval_args(data_root, out, method, model_dir):
    extra = [o for o in PER_TRAINER.get(method, []) if o not in ("TRAINER.DPL.CTX_INIT", "default")]
    return ["--root", data_root, "--seed", 1, "--trainer", method, "--backbone", "tiny-random",
            "--dataset-config-file", "configs/datasets/demo.yaml", "--config-file",
            f"configs/trainers/{TRAINERS[method][1]}", "--output-dir", out, "--eval-only", "--model-dir", model_dir,
            "--load-epoch", EPOCH, *FAST_OPTS, *OPTS.get(method, []), *extra]


@pytest.fixture(scope="module")
def evaluations(data_root, tmp_path_factory):
    from dpl.backbones.loading import build_tiny_clip
    from dpl.prompting import PromptedCLIP

    tmp = tmp_path_factory.mktemp("official")
    dims = Dims(PromptedCLIP(build_tiny_clip()), n_classes=10)
    runs, names = [], []
    for method, builder in BUILDERS.items():
        state, ours = builder(dims, torch.Generator().manual_seed(7))
        official, native = tmp / method / "official", tmp / method / "native"
        write_dassl_checkpoint(official / FOLDERS[method], state, epoch=EPOCH)
        (native / "prompt_learner").mkdir(parents=True)
        torch.save({"state_dict": ours, "epoch": EPOCH}, native / "prompt_learner" / f"model.pth.tar-{EPOCH}")
        for kind, model_dir in (("official", official), ("native", native)):
            runs.append(_eval_args(data_root, tmp / method / f"eval-{kind}", method, model_dir))
            names.append((method, kind))
    codes, _, _ = run_train_many(runs, tmp / "train_many")
    return dict(zip(names, codes)), tmp


@pytest.mark.parametrize("method", list(BUILDERS))
def test_eval_only_on_an_official_folder_prints_the_result_of_those_prompts(method, evaluations):
    codes, tmp = evaluations
    official, native = tmp / method / "eval-official", tmp / method / "eval-native"
    log = (official / "log.txt").read_text()
    assert codes[(method, "official")] == 0, log[-3000:]
    assert "=> result" in log.splitlines() and "as a Dassl-written checkpoint" in log
    assert f"tensors of the {method} (" in log  # mapped from the official names
    assert codes[(method, "native")] == 0
    got = json.loads((official / "results.json").read_text())
    want = json.loads((native / "results.json").read_text())
    assert got["accuracy"] == want["accuracy"] and got["macro_f1"] == want["macro_f1"]
