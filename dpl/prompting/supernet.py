"""DPL's search space: candidate prompts (``SearchSpace``) and architecture logits (``Architecture``), kept in
separate modules because they have separate optimisers (prompts: the engine's SGD on training batches,
alphas: Adam on validation batches) and separate checkpoints."""
import torch
import torch.nn as nn

from .attention import KVMixture
from .layout import BRANCHES, PromptLayout


def _check_branch(branch):
    if branch not in BRANCHES:
        raise ValueError(f"unknown prompt branch {branch!r}; expected one of {', '.join(BRANCHES)}")


# How candidates start: "official" as the official search code (vision standard normal, text uniform on [0, 1)),
# "normal" N(0, std) in both towers (the train stage's init).
INITS = ("official", "normal")


def _init_candidate(p, branch, init, std):
    if init == "normal":
        nn.init.normal_(p, std=std)
    elif branch == "vision":
        nn.init.normal_(p, std=1.0)
    else:
        nn.init.uniform_(p, 0.0, 1.0)


class SearchSpace(nn.Module):
    """For every layer of both towers and every length k = 1..N, its own (k, W) prompt: N(N+1)/2 tensors per layer
    and branch, initialised as ``init`` says (``INITS``). Parameter names: ``vision.<layer>_<k>`` / ``text.<layer>_<k>``."""

    def __init__(self, vision_layers, text_layers, vision_width, text_width, max_length, std=0.02,
                 dtype=torch.float32, init="normal"):
        super().__init__()
        if max_length < 1:
            raise ValueError(f"SearchSpace: max_length is {max_length}; expected >= 1")
        if init not in INITS:
            raise ValueError(f"SearchSpace: init is {init!r}; expected one of {', '.join(INITS)}")
        self.max_length = int(max_length)
        self.layers = {"vision": int(vision_layers), "text": int(text_layers)}
        widths = {"vision": int(vision_width), "text": int(text_width)}
        for branch in BRANCHES:
            params = nn.ParameterDict()
            for layer in range(self.layers[branch]):
                for k in range(1, self.max_length + 1):
                    p = torch.empty(k, widths[branch], dtype=dtype)
                    _init_candidate(p, branch, init, std)
                    params[f"{layer}_{k}"] = nn.Parameter(p)
            setattr(self, branch, params)

    def candidates(self, branch, layer):
        """[P_1 (1, W), ..., P_N (N, W)] of one layer."""
        _check_branch(branch)
        params = getattr(self, branch)
        return [params[f"{layer}_{k}"] for k in range(1, self.max_length + 1)]


class Architecture(nn.Module):
    """The architecture logits: ``vision`` (Lv, N+1) and ``text`` (Lt, N+1); column k = prompt length k."""

    def __init__(self, vision_layers, text_layers, max_length):
        super().__init__()
        self.max_length = int(max_length)
        self.vision = nn.Parameter(1e-3 * torch.randn(int(vision_layers), self.max_length + 1))
        self.text = nn.Parameter(1e-3 * torch.randn(int(text_layers), self.max_length + 1))

    def weights(self, branch):
        """softmax(alpha) of ``branch`` (differentiable)."""
        _check_branch(branch)
        return torch.softmax(getattr(self, branch), dim=-1)

    @torch.no_grad()
    def probabilities(self):
        return {b: torch.softmax(getattr(self, b).detach().float(), dim=-1) for b in BRANCHES}

    def derive_layout(self, backbone="", source=""):
        """argmax length per layer; confidence = winning probability, margin = winner minus runner-up."""
        lengths, confidence, margin = {}, {}, {}
        for b, p in self.probabilities().items():
            top = p.topk(min(2, p.shape[-1]), dim=-1)
            second = top.values[:, 1] if p.shape[-1] > 1 else torch.zeros_like(top.values[:, 0])
            lengths[b] = top.indices[:, 0].tolist()
            confidence[b] = top.values[:, 0].tolist()
            margin[b] = (top.values[:, 0] - second).tolist()
        return PromptLayout(lengths["vision"], lengths["text"], self.max_length, backbone=backbone,
                            confidence=confidence, margin=margin, source=source)


def supernet_prompts(space, arch, branch, naive=False, recompute=False):
    """One ``KVMixture`` per layer of ``branch``: that layer's candidates weighted by softmax(alpha)."""
    if space.max_length != arch.max_length:
        raise ValueError(f"SearchSpace has N={space.max_length} but Architecture has N={arch.max_length}")
    weights = arch.weights(branch)
    return [KVMixture(space.candidates(branch, layer), weights[layer], naive=naive, recompute=recompute)
            for layer in range(weights.shape[0])]
