"""Checkpoints written by the official Dassl-based codebases, evaluated here: Dassl's file layout with its pickled
optimizer and warm-up scheduler loads without running code from the file, each codebase's parameter names map onto
this project's learner (values checked tensor by tensor), names that fit nowhere are listed, and a file whose pickle
would run code is refused unless the user opts in with --trust-checkpoint."""
import os
import pathlib
import sys

import pytest
import torch

from dpl.errors import CheckpointError

from official_layouts import BUILDERS, FOLDERS, OPTS, Dims, write_dassl_checkpoint

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from trainer_harness import build  # noqa: E402


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def _trainer(method, data_root, tmp_path):
    return build(method, data_root, tmp_path / "run", opts=OPTS.get(method, []))


def _official(method, trainer, seed=0):
    dims = Dims(trainer.clip, trainer.num_classes)
    return BUILDERS[method](dims, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("method", list(BUILDERS))
def test_official_checkpoint_evaluates_with_its_values_on_our_learner(method, data_root, tmp_path):
    trainer = _trainer(method, data_root, tmp_path)
    state, expected = _official(method, trainer)
    model_dir = tmp_path / "official"
    write_dassl_checkpoint(model_dir / FOLDERS[method], state, epoch=2)
    trainer.load_model(str(model_dir), epoch=2)
    loaded = trainer._models["prompt_learner"].state_dict()
    assert set(loaded) == set(expected)
    for name, value in expected.items():
        assert torch.equal(loaded[name], value.to(loaded[name].dtype)), name
    assert 0.0 <= trainer.test() <= 100.0


def test_a_pickled_warm_up_scheduler_object_loads_too(data_root, tmp_path):
    trainer = _trainer("MaPLe", data_root, tmp_path)
    state, expected = _official("MaPLe", trainer)
    write_dassl_checkpoint(tmp_path / "official" / FOLDERS["MaPLe"], state, epoch=5, warmup_object=True)
    trainer.load_model(str(tmp_path / "official"), epoch=5)
    assert torch.equal(trainer._models["prompt_learner"].state_dict()["layers.text.2"], expected["layers.text.2"])


def test_names_that_fit_nowhere_are_listed(data_root, tmp_path):
    trainer = _trainer("IVLP", data_root, tmp_path)
    state, _ = _official("IVLP", trainer)
    del state["text_encoder.transformer.resblocks.2.VPT_shallow"]
    state["prompt_learner.meta_net.weight"] = torch.zeros(2, 2)
    write_dassl_checkpoint(tmp_path / "official" / "VLPromptLearner", state)
    with pytest.raises(CheckpointError) as e:
        trainer.load_model(str(tmp_path / "official"), epoch=2)
    message = str(e.value)
    assert "IVLP (muzairkhattak/multimodal-prompt-learning) layout" in message
    assert "unexpected names (nothing in this learner to put them in): prompt_learner.meta_net.weight" in message
    assert "missing names (this learner's, found in no official name): layers.text.2" in message


def test_a_dpl_checkpoint_of_another_layout_says_which_lengths_it_holds(data_root, tmp_path):
    trainer = _trainer("DPL", data_root, tmp_path)
    dims = Dims(trainer.clip, trainer.num_classes)
    from official_layouts import dpl
    state, _ = dpl(dims, torch.Generator().manual_seed(0), layout={"vision": [0, 2, 2, 0], "text": [3, 2, 1]})
    write_dassl_checkpoint(tmp_path / "official" / "MultiModalPromptLearner", state)
    with pytest.raises(CheckpointError, match=r"prompt_learner.ctx_txt_lst.0 \(3, 128\) -> text.0 \(1, 128\)") as e:
        trainer.load_model(str(tmp_path / "official"), epoch=2)
    assert "Prompt lengths in the checkpoint: text layer 0: 3, layer 1: 2, layer 2: 1" in str(e.value)


class _RunsCode:
    """Unpickling this touches a file: the kind of pickle a checkpoint must not be allowed to hold silently."""

    def __init__(self, marker):
        self.marker = pathlib.Path(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_a_pickle_that_would_run_code_is_refused_unless_trusted(data_root, tmp_path):
    trainer = _trainer("CoOp", data_root, tmp_path)
    state, expected = _official("CoOp", trainer)
    marker = tmp_path / "code-ran"
    path = write_dassl_checkpoint(tmp_path / "official" / "prompt_learner", state, extra={"hook": _RunsCode(marker)})
    with pytest.raises(CheckpointError) as e:
        trainer.load_model(str(tmp_path / "official"), epoch=2)
    message = str(e.value)
    assert path in message and "--trust-checkpoint" in message and "pathlib" in message
    assert not marker.exists()
    trainer.trust_checkpoint = True
    trainer.load_model(str(tmp_path / "official"), epoch=2)
    assert marker.exists()  # what trusting a file means
    assert torch.equal(trainer._models["prompt_learner"].state_dict()["ctx"], expected["ctx"].to(torch.float32))


def test_our_own_checkpoints_still_load_as_before(data_root, tmp_path):
    trainer = _trainer("CoOp", data_root, tmp_path)
    trainer.save_model(0, str(tmp_path / "ours"))
    before = trainer._models["prompt_learner"].state_dict()["ctx"].clone()
    with torch.no_grad():
        trainer._models["prompt_learner"].ctx.add_(1.0)
    trainer.load_model(str(tmp_path / "ours"), epoch=1)
    assert torch.equal(trainer._models["prompt_learner"].state_dict()["ctx"], before)
    assert not os.path.exists(tmp_path / "ours" / "VLPromptLearner")
