"""The device walk used by the CUDA tests finds parameters, buffers and plain tensor attributes."""
import torch

from dpl.testing.devices import module_tensors, tensors_off_device


class Holder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(2))
        self.register_buffer("table", torch.zeros(3))
        self.mask = torch.zeros(2, 2)  # a plain attribute, as clip's ResidualAttentionBlock.attn_mask
        self.child = torch.nn.Linear(2, 2)


def test_walk_lists_every_kind_of_tensor():
    names = {name for name, _ in module_tensors(Holder())}
    assert names == {"weight", "table", "mask", "child.weight", "child.bias"}


def test_off_device_names_what_is_elsewhere():
    holder = Holder()
    assert tensors_off_device(holder, "cpu") == []
    assert tensors_off_device(holder, "meta") == ["child.bias", "child.weight", "mask", "table", "weight"]
    holder.to("meta")
    assert tensors_off_device(holder, "meta") == ["mask"]  # Module.to does not move plain attributes


def test_loaded_clip_keeps_its_text_masks_with_the_weights():
    from dpl.backbones.loading import load_clip

    model = load_clip("tiny-random", device="meta")
    assert tensors_off_device(model, "meta") == []
