"""Fixtures of the random-stream tests: one Demo data root, and tiny-random saved as a weights file, so the backbone
is loaded as the official code loads OpenAI's file (a CLIP constructor whose random init draws from the global RNG,
then the weights)."""
import pytest


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("seed_data"))


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory):
    from dpl.backbones.loading import save_tiny_clip_archive

    return save_tiny_clip_archive(str(tmp_path_factory.mktemp("seed_weights") / "tiny.pt"), jit=False)
