"""open_clip backbones through the front door (``load_backbone``): names, ``MODEL.BACKBONE.PRETRAINED`` (tag, file,
random), refusals before any download, the offline hub's instruction, and open_clip's preprocessing in the config."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("open_clip")

from dpl.backbones.loading import input_settings, load_backbone  # noqa: E402
from dpl.errors import BackboneError, UnknownNameError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY = "open_clip:dpl-tiny"


def test_random_weights_are_the_same_in_every_call_and_leave_the_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, tok = load_backbone(TINY, pretrained="random")
    b, _ = load_backbone(TINY, pretrained="random")
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not a.training and a.visual.conv1.out_channels == 192
    tokens = tok(["a photo of a dog."], context_length=77)
    assert tokens.shape == (1, 77) and int(tokens[0, 0]) == 49406


def test_weights_from_a_local_file(tmp_path):
    model, _ = load_backbone(TINY, pretrained="random")
    state = {k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    path = tmp_path / "tiny.pt"
    torch.save(state, path)
    loaded, _ = load_backbone(TINY, pretrained=str(path))
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())


def test_pretrained_must_be_given_and_known():
    with pytest.raises(BackboneError, match="PRETRAINED is empty .* laion2b_s34b_b88k.* random"):
        load_backbone("open_clip:ViT-B-16")
    with pytest.raises(UnknownNameError, match="not a tag of open_clip ViT-B-16. Did you mean 'laion2b_s34b_b88k'"):
        load_backbone("open_clip:ViT-B-16", pretrained="laion2b_s34b_b8k")
    with pytest.raises(BackboneError, match="/no/such/weights.pt: no such file"):
        load_backbone("open_clip:ViT-B-16", pretrained="/no/such/weights.pt")
    with pytest.raises(UnknownNameError, match="Unknown open_clip model \"ViT-B-61\" .* Did you mean 'ViT-B-16'") as e:
        load_backbone("open_clip:ViT-B-61", pretrained="random")
    assert "ViT-L-14-336" in str(e.value) and "SigLIP" not in str(e.value)  # lists the supported ones only


def test_a_tag_trained_with_the_other_activation_is_refused():
    """open_clip only warns when QuickGELU weights go into a GELU config; the model would be wrong."""
    with pytest.raises(BackboneError, match="trained with QuickGELU.* open_clip:ViT-B-16-quickgelu"):
        load_backbone("open_clip:ViT-B-16", pretrained="dfn2b")


def test_path_and_pretrained_belong_to_their_own_family(tmp_path):
    with pytest.raises(BackboneError, match="open_clip backbones .* take their weights from MODEL.BACKBONE.PRETRAINED"):
        load_backbone(TINY, path=str(tmp_path), pretrained="random")
    with pytest.raises(BackboneError, match="PRETRAINED is laion2b.* read for open_clip backbones only"):
        load_backbone("ViT-B/16", pretrained="laion2b_s34b_b88k")


@pytest.mark.parametrize("name, phrase", [
    ("ViT-B-16-SigLIP", "built from timm"), ("RN50", "is a ResNet"), ("coca_ViT-B-32", "custom text tower"),
    ("xlm-roberta-base-ViT-B-32", "built from Hugging Face")])
def test_towers_open_clip_builds_elsewhere_are_refused_before_any_download(name, phrase):
    with pytest.raises(BackboneError, match=phrase):
        load_backbone(f"open_clip:{name}", pretrained="some-tag-never-fetched")


def test_an_offline_hub_says_what_to_put_where(tmp_path):
    """A tag whose weights are neither cached nor downloadable (offline hub): the error names the cache, the repo,
    the files and the PRETRAINED file alternative (in a subprocess: the hub reads its settings at import)."""
    code = ("from dpl.backbones.loading import load_backbone\n"
            "load_backbone('open_clip:ViT-B-16', pretrained='laion2b_s34b_b88k')\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode != 0
    message = proc.stderr.strip().splitlines()[-1]
    assert "BackboneError" in message and "tag laion2b_s34b_b88k are not in open_clip's cache" in message
    assert str(tmp_path / "hf" / "hub") in message and "laion/CLIP-ViT-B-16-laion2B-s34B-b88K" in message
    assert "MODEL.BACKBONE.PRETRAINED" in message


def test_missing_open_clip_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "open_clip", None)
    with pytest.raises(BackboneError, match=r'pip install -e "\.\[open_clip\]"'):
        load_backbone(TINY, pretrained="random")


def test_preprocessing_comes_from_open_clip():
    assert input_settings("ViT-B/16") is None  # OpenAI CLIP: the configs carry its values
    laion = input_settings("open_clip:ViT-L-14", "laion2b_s32b_b82k")
    assert laion["mean"] == [0.5, 0.5, 0.5] and laion["size"] == (224, 224) and laion["interpolation"] == "bicubic"
    assert input_settings("open_clip:ViT-L-14-336-quickgelu", "openai")["size"] == (336, 336)


def test_setup_cfg_takes_open_clips_preprocessing_unless_given_on_the_command_line():
    from train import build_parser

    from dpl.runs.config import setup_cfg

    base = ["--backbone", "open_clip:ViT-L-14", "--config-file", str(REPO / "configs/trainers/CoOp/vit_b16_ep50.yaml")]
    cfg = setup_cfg(build_parser().parse_args([*base, "MODEL.BACKBONE.PRETRAINED", "laion2b_s32b_b82k"]))
    assert list(cfg.INPUT.PIXEL_MEAN) == [0.5, 0.5, 0.5] and list(cfg.INPUT.PIXEL_STD) == [0.5, 0.5, 0.5]
    cfg = setup_cfg(build_parser().parse_args([*base, "MODEL.BACKBONE.PRETRAINED", "laion2b_s32b_b82k",
                                               "INPUT.PIXEL_MEAN", "[0.1, 0.2, 0.3]"]))
    assert list(cfg.INPUT.PIXEL_MEAN) == [0.1, 0.2, 0.3] and list(cfg.INPUT.PIXEL_STD) == [0.5, 0.5, 0.5]
