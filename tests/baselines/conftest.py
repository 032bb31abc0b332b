"""Fixtures of the baseline tests: images, a layout file (``tiny_clip`` comes from tests/conftest.py; helpers live in
baseline_helpers.py: every test folder has a conftest.py)."""
import json

import pytest
import torch


@pytest.fixture(scope="session")
def images():
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 3, 224, 224, generator=g)


@pytest.fixture
def layout_file(tmp_path, tiny_clip):
    """A non-uniform layout with zero-length layers in both towers, sized to the tiny model."""
    lv, lt = tiny_clip.vision_layers, tiny_clip.text_layers
    vision = [3, 0, 1, 2, 0, 4, 1, 0, 2, 3, 0, 1][:lv]
    text = [2, 3, 0, 1, 4, 0, 2, 1, 0, 3, 1, 2][:lt]
    path = tmp_path / "layout.json"
    path.write_text(json.dumps({"backbone": "tiny-random", "max_length": 6, "vision": vision, "text": text,
                                "source": "test"}))
    return str(path), vision, text
