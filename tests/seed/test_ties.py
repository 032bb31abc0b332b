"""On a tie the layout takes the shortest length, as the official train stage's torch.argmax (trainersubnet.py)."""
import numpy as np
import torch

from dpl.prompting import Architecture
from dpl.search.import_official import layout_from_pair


def test_all_equal_alphas_give_length_zero():
    arch = Architecture(4, 3, 5)
    with torch.no_grad():
        arch.vision.fill_(0.0)
        arch.text.fill_(0.25)
        arch.text[1, 2:4] = 1.0  # a tie between lengths 2 and 3
    layout = arch.derive_layout()
    assert layout.vision == [0, 0, 0, 0]
    assert layout.text == [0, 2, 0]
    assert layout.margin["vision"] == [0.0] * 4 and layout.margin["text"][1] == 0.0
    assert layout.confidence["vision"][0] == torch.softmax(torch.zeros(6), -1)[0].item()


def test_imported_official_alphas_tie_as_the_official_argmax(tmp_path):
    vision, text = np.zeros((4, 4), dtype=np.float32), np.zeros((3, 4), dtype=np.float32)
    vision[2, 1:] = 0.5
    pair = {"txt": str(tmp_path / "alpha_e1_txt.npy"), "img": str(tmp_path / "alpha_e1_img.npy")}
    np.save(pair["txt"], vision)  # the official search saves the image alphas under _txt
    np.save(pair["img"], text)
    layout = layout_from_pair(pair, backbone="tiny-random")
    official = torch.argmax(torch.softmax(torch.from_numpy(vision), dim=-1), dim=-1).tolist()
    assert layout.vision == official == [0, 0, 1, 0]
    assert layout.text == [0, 0, 0]
