"""Where a model's tensors live: parameters, buffers, and plain tensor attributes of its submodules (such as
the stock text blocks' ``attn_mask``, which ``Module.to`` does not move)."""
import torch


def module_tensors(module):
    """Yield ``(name, tensor)`` for every parameter, buffer and tensor-valued attribute of every submodule."""
    for prefix, sub in module.named_modules():
        params = dict(sub.named_parameters(recurse=False))
        buffers = dict(sub.named_buffers(recurse=False))
        for name, value in vars(sub).items():
            if name.startswith("_"):
                continue
            if torch.is_tensor(value) and name not in params and name not in buffers:
                yield f"{prefix}.{name}" if prefix else name, value
        for name, value in {**params, **buffers}.items():
            if value is not None:
                yield f"{prefix}.{name}" if prefix else name, value


def tensors_off_device(module, device):
    """Names of the tensors of ``module`` that are not on ``device`` (``torch.device`` or a string)."""
    device = torch.device(device)

    def on(t):
        return t.device.type == device.type and (device.index is None or t.device.index == device.index)

    return sorted({name for name, t in module_tensors(module) if not on(t)})
