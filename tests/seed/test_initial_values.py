"""For a seed, DPL's initial values and the RNG position after each stage's set-up equal what the official code's
calls produce (official_reference.py follows them line by line)."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from trainer_harness import build_as_train_py  # noqa: E402

import official_reference as ref  # noqa: E402

FAST = ["DATASET.NUM_SHOTS", 2, "OPTIM.MAX_EPOCH", 1, "DATALOADER.NUM_WORKERS", 0, "DATALOADER.TRAIN_X.BATCH_SIZE", 4,
        "DATALOADER.TEST.BATCH_SIZE", 8, "TRAINER.DPL.CTX_INIT", "default", "TRAINER.DPL.PREC", "fp32"]
N = 3


def _build(trainer, config, data_root, tmp_path, weights_file, seed, opts=()):
    backbone = ["MODEL.BACKBONE.NAME", "ViT-B/16", "MODEL.BACKBONE.PATH", weights_file]
    return build_as_train_py(trainer, config, data_root, tmp_path / "out", [*FAST, *backbone, *opts], seed)


def _state_dict(weights_file):
    return torch.load(weights_file, map_location="cpu", weights_only=True)


def test_search_initial_values_and_rng_position_equal_the_official_calls(data_root, tmp_path, weights_file):
    for seed in (1, 2):
        trainer = _build("DPLSearch", "DPL/search.yaml", data_root, tmp_path / str(seed), weights_file, seed,
                         ["TRAINER.DPL.MAX_LENGTH", N])
        after_setup = torch.get_rng_state()
        expected = ref.search_initial_values(_state_dict(weights_file), seed, N)
        assert torch.equal(torch.get_rng_state(), after_setup)
        arch, space = trainer.model.architecture, trainer.model.prompt_learner
        assert torch.equal(arch.vision.detach(), expected["alphas_img"])
        assert torch.equal(arch.text.detach(), expected["alphas_txt"])
        for branch, key in (("vision", "ctx_img_lst"), ("text", "ctx_txt_lst")):
            for layer, official in enumerate(expected[key]):
                ours = space.candidates(branch, layer)
                assert len(ours) == len(official) == N
                for p, q in zip(ours, official):
                    assert torch.equal(p.detach(), q), (branch, layer, p.shape)


def test_train_initial_values_and_rng_position_equal_the_official_calls(data_root, tmp_path, weights_file):
    seed = 3
    trainer = _build("DPL", "DPL/vit_b16_ep40.yaml", data_root, tmp_path, weights_file, seed,
                     ["TRAINER.DPL.MAX_LENGTH", N, "TRAINER.LAYOUT", "random:5"])
    after_setup = torch.get_rng_state()
    layout = trainer.model.layout
    assert 0 in layout.vision + layout.text and any(layout.vision)  # empty layers and prompted ones
    expected = ref.train_initial_values(_state_dict(weights_file), seed, layout.vision, layout.text)
    assert torch.equal(torch.get_rng_state(), after_setup)  # the teacher's load consumed, though KD_WEIGHT is 0
    prompts = trainer.model.prompt_learner
    for branch, key in (("vision", "ctx_img_lst"), ("text", "ctx_txt_lst")):
        params = getattr(prompts, branch)
        for layer, official in enumerate(expected[key]):
            if official.shape[0] == 0:
                assert str(layer) not in params
            else:
                assert torch.equal(params[str(layer)].detach(), official), (branch, layer)
