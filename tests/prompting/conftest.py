"""Fixtures: a small stock clip.model.CLIP (fixed seed, fp32), its PromptedCLIP, images and text input."""
import pytest
import torch
from prompting_reference import SMALL, build_small_clip

from dpl.prompting import PromptedCLIP


@pytest.fixture(scope="session")
def stock():
    return build_small_clip()


@pytest.fixture(scope="session")
def prompted(stock):
    return PromptedCLIP(stock)


@pytest.fixture(scope="session")
def images():
    g = torch.Generator().manual_seed(1)
    return torch.randn(3, 3, SMALL["image_resolution"], SMALL["image_resolution"], generator=g)


@pytest.fixture(scope="session")
def text_input(stock):
    import clip

    tokens = clip.tokenize(["a photo of a dog.", "a photo of a small red car.", "x"])
    with torch.no_grad():
        return tokens, stock.token_embedding(tokens), tokens.argmax(dim=-1)


