"""dpl.backbones.loading: tiny-random, archive/state-dict round trips through the real-name lookup, and its errors."""
import clip.clip as clip_impl
import pytest
import torch
from clip.model import CLIP

from dpl.backbones import loading as backbone
from dpl.backbones.loading import (build_tiny_clip, is_vit, load_clip, official_filename, require_vit,
                          save_tiny_clip_archive, tiny_clip_state_dict)
from dpl.errors import BackboneError, UnknownNameError

# Tracing / loading OpenAI's TorchScript format is deprecated upstream and warns; that format is what we read.
pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty CLIP cache dir, and a download that always fails (no network in tests)."""
    directory = tmp_path / "clip-cache"
    monkeypatch.setenv("DPL_CLIP_CACHE", str(directory))

    def no_network(url, root):
        raise RuntimeError("network unreachable")

    monkeypatch.setattr(clip_impl, "_download", no_network)
    return directory


@pytest.fixture(scope="module")
def tiny_archive(tmp_path_factory):
    """tiny-random as OpenAI's TorchScript archive (traced once per module: it is the slow part)."""
    return save_tiny_clip_archive(str(tmp_path_factory.mktemp("archive") / "tiny.pt"))


def assert_same_weights(model, state_dict):
    got = model.state_dict()
    assert sorted(got) == sorted(state_dict)
    for key, value in state_dict.items():
        assert torch.equal(got[key], value.to(got[key].dtype)), key


def test_tiny_random_is_deterministic_and_has_the_documented_shape(capsys):
    a, b = load_clip("tiny-random"), load_clip("tiny-random")
    assert isinstance(a, CLIP) and not a.training
    assert_same_weights(b, a.state_dict())
    assert "random weights" in capsys.readouterr().out
    assert a.visual.conv1.weight.shape[0] == 192 and len(a.visual.transformer.resblocks) == 4
    assert a.visual.input_resolution == 224 and a.visual.conv1.kernel_size == (32, 32)
    assert a.transformer.width == 128 and a.transformer.layers == 3
    assert a.token_embedding.num_embeddings == 49408 and a.context_length == 77
    assert a.text_projection.shape[1] == 64
    assert not torch.equal(tiny_clip_state_dict(seed=1)["visual.proj"], tiny_clip_state_dict()["visual.proj"])


def test_tiny_random_leaves_the_global_rng_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    build_tiny_clip()
    assert torch.equal(torch.rand(3), expected)


def test_tiny_random_runs_both_towers():
    model = load_clip("tiny-random")
    with torch.no_grad():
        image = model.encode_image(torch.zeros(2, 3, 224, 224))
        text = model.encode_text(clip_impl.tokenize(["a photo of a dog.", "a cat"]))
    assert image.shape == (2, 64) and text.shape == (2, 64)


def test_jit_archive_in_cache_dir_loads_by_real_name(cache, tiny_archive):
    cache.mkdir()
    target = cache / official_filename("ViT-B/32")
    assert target.name == "ViT-B-32.pt"
    target.write_bytes(open(tiny_archive, "rb").read())
    keys = set(torch.jit.load(str(target)).state_dict())
    assert keys == set(tiny_clip_state_dict()) | {"input_resolution", "context_length", "vocab_size"}
    model = load_clip("ViT-B/32")
    assert_same_weights(model, tiny_clip_state_dict())


def test_archive_is_accepted_by_clip_load(tiny_archive):
    model, _ = clip_impl.load(tiny_archive, device="cpu", jit=True)  # OpenAI's own JIT code path
    assert model.input_resolution.item() == 224


def test_jit_archive_via_path_file_and_directory(tmp_path, cache, tiny_archive):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "ViT-B-16.pt").write_bytes(open(tiny_archive, "rb").read())
    assert_same_weights(load_clip("ViT-B/16", path=str(folder)), tiny_clip_state_dict())
    assert_same_weights(load_clip("ViT-B/16", path=str(folder / "ViT-B-16.pt")), tiny_clip_state_dict())


@pytest.mark.parametrize("wrapped", [False, True])
def test_plain_state_dict(tmp_path, cache, wrapped):
    file = tmp_path / "weights.pt"
    if wrapped:
        torch.save({"state_dict": tiny_clip_state_dict()}, file)
    else:
        save_tiny_clip_archive(str(file), jit=False)
    assert_same_weights(load_clip("ViT-L/14", path=str(file)), tiny_clip_state_dict())


def openai_fp16_names(model):
    """The tensors OpenAI's fp16 CLIP holds in fp16, from the scheme's definition: weights and biases of conv and
    linear layers, attention input projections, and the two output projections. The rest (LayerNorms, token /
    position / class embeddings, logit_scale) stays fp32."""
    names = set()
    for prefix, module in model.named_modules():
        dot = prefix + "." if prefix else ""
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            names |= {dot + n for n, p in module.named_parameters(recurse=False) if p is not None}
        if isinstance(module, torch.nn.MultiheadAttention):
            names |= {dot + "in_proj_weight", dot + "in_proj_bias"}
    return names | {"text_projection", "visual.proj"}


def test_fp16_is_openai_scheme_and_fp32_is_all_fp32():
    model = load_clip("tiny-random", dtype=torch.float16)
    half = openai_fp16_names(model)
    for name, p in model.named_parameters():
        assert p.dtype == (torch.float16 if name in half else torch.float32), name
    assert model.dtype == torch.float16 and not model.training
    model = load_clip("tiny-random", dtype=torch.float32)
    assert {p.dtype for p in model.parameters()} == {torch.float32} and not model.training


def test_unknown_name_has_did_you_mean():
    with pytest.raises(UnknownNameError) as info:
        load_clip("ViT-B/61")
    message = str(info.value)
    assert "ViT-B/61" in message and "Did you mean" in message and "'ViT-B/16'" in message
    assert "tiny-random" in message and "RN50" in message


def test_missing_file_and_failed_download_names_file_url_and_directory(cache):
    with pytest.raises(BackboneError) as info:
        load_clip("ViT-B/16")
    message = str(info.value)
    assert "ViT-B-16.pt" in message and str(cache) in message
    assert clip_impl._MODELS["ViT-B/16"] in message and "MODEL.BACKBONE.PATH" in message
    assert list(cache.iterdir()) == []  # no partial download left behind


def test_download_lands_in_cache(cache, monkeypatch, tiny_archive):
    def fake_download(url, root):
        target = f"{root}/{url.split('/')[-1]}"
        open(target, "wb").write(open(tiny_archive, "rb").read())
        return target

    monkeypatch.setattr(clip_impl, "_download", fake_download)
    load_clip("ViT-B/32")
    assert [p.name for p in cache.iterdir()] == ["ViT-B-32.pt"]


def test_missing_path_is_named(tmp_path, cache):
    with pytest.raises(BackboneError, match="nowhere"):
        load_clip("ViT-B/16", path=str(tmp_path / "nowhere.pt"))
    with pytest.raises(BackboneError, match="ViT-B-16.pt"):
        load_clip("ViT-B/16", path=str(tmp_path))  # a directory without the official file


def test_corrupt_file_is_named(tmp_path, cache):
    bad = tmp_path / "ViT-B-16.pt"
    bad.write_bytes(b"definitely not weights")
    with pytest.raises(BackboneError, match="ViT-B-16.pt"):
        load_clip("ViT-B/16", path=str(bad))
    torch.save({"visual.proj": torch.zeros(2, 2)}, bad)  # a state dict, but not CLIP's
    with pytest.raises(BackboneError, match="does not hold a CLIP model"):
        load_clip("ViT-B/16", path=str(bad))


def test_tiny_random_never_reads_a_path(tmp_path):
    with pytest.raises(BackboneError, match="MODEL.BACKBONE.PATH"):
        load_clip("tiny-random", path=str(tmp_path))


def test_require_vit():
    model = build_tiny_clip()
    assert is_vit(model)
    require_vit(model, "DPL")
    model.visual = torch.nn.Identity()  # stands in for a ResNet image tower
    assert not is_vit(model)
    with pytest.raises(BackboneError, match="DPL needs a ViT"):
        require_vit(model, "DPL", backbone="RN50")
