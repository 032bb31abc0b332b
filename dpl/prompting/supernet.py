"""DPL's search space: candidate prompts (``SearchSpace``) and architecture logits (``Architecture``), kept in
separate modules because they have separate optimisers (prompts: the engine's SGD on training batches,
alphas: Adam on validation batches) and separate checkpoints."""
import contextlib

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
    and branch, initialised as ``init`` says (``INITS``). Parameter names: ``vision.<layer>_<k>`` / ``text.<layer>_<k>``.
    ``draw=False`` leaves the values unset (``draw_branch`` / ``draw_search_init`` fill them)."""

    def __init__(self, vision_layers, text_layers, vision_width, text_width, max_length, std=0.02,
                 dtype=torch.float32, init="normal", draw=True):
        super().__init__()
        if max_length < 1:
            raise ValueError(f"SearchSpace: max_length is {max_length}; expected >= 1")
        if init not in INITS:
            raise ValueError(f"SearchSpace: init is {init!r}; expected one of {', '.join(INITS)}")
        self.max_length = int(max_length)
        self.init, self.std = init, std
        self.layers = {"vision": int(vision_layers), "text": int(text_layers)}
        widths = {"vision": int(vision_width), "text": int(text_width)}
        for branch in BRANCHES:
            params = nn.ParameterDict()
            for layer in range(self.layers[branch]):
                for k in range(1, self.max_length + 1):
                    params[f"{layer}_{k}"] = nn.Parameter(torch.empty(k, widths[branch], dtype=dtype))
            setattr(self, branch, params)
        if draw:
            for branch in BRANCHES:
                self.draw_branch(branch)

    @torch.no_grad()
    def draw_branch(self, branch):
        """Draw ``branch``'s candidates from the global RNG: layer by layer, lengths 1..N (the official order)."""
        for layer in range(self.layers[branch]):
            for p in self.candidates(branch, layer):
                _init_candidate(p, branch, self.init, self.std)

    def candidates(self, branch, layer):
        """[P_1 (1, W), ..., P_N (N, W)] of one layer."""
        _check_branch(branch)
        params = getattr(self, branch)
        return [params[f"{layer}_{k}"] for k in range(1, self.max_length + 1)]


class Architecture(nn.Module):
    """The architecture logits: ``vision`` (Lv, N+1) and ``text`` (Lt, N+1); column k = prompt length k."""

    def __init__(self, vision_layers, text_layers, max_length, draw=True):
        super().__init__()
        self.max_length = int(max_length)
        self.vision = nn.Parameter(torch.empty(int(vision_layers), self.max_length + 1))
        self.text = nn.Parameter(torch.empty(int(text_layers), self.max_length + 1))
        if draw:
            for branch in BRANCHES:
                self.draw_branch(branch)

    @torch.no_grad()
    def draw_branch(self, branch):
        """1e-3 * N(0, 1) from the global RNG, as the official ``1.0e-3 * torch.randn(layers, N + 1)``."""
        _check_branch(branch)
        getattr(self, branch).normal_().mul_(1e-3)

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
            # torch.argmax, as the official train stage: on a tie the shortest length wins (topk's pick is not
            # specified and took the longest)
            best = p.argmax(dim=-1)
            winner = p.gather(-1, best[:, None])[:, 0]
            rest = p.scatter(-1, best[:, None], float("-inf"))
            second = rest.max(dim=-1).values if p.shape[-1] > 1 else torch.zeros_like(winner)
            lengths[b] = best.tolist()
            confidence[b] = winner.tolist()
            margin[b] = (winner - second).tolist()
        return PromptLayout(lengths["vision"], lengths["text"], self.max_length, backbone=backbone,
                            confidence=confidence, margin=margin, source=source)


def draw_search_init(space, arch):
    """The search's initial values in the official search's draw order (trainers/trainersupernet.py): image
    alphas, vision candidates, text alphas, text candidates. Each is the same distribution in any order, but only
    this order gives the official values for a seed."""
    for branch in ("vision", "text"):
        arch.draw_branch(branch)
        space.draw_branch(branch)


def supernet_prompts(space, arch, branch, naive=False, recompute=False):
    """One ``KVMixture`` per layer of ``branch``: that layer's candidates weighted by softmax(alpha)."""
    if space.max_length != arch.max_length:
        raise ValueError(f"SearchSpace has N={space.max_length} but Architecture has N={arch.max_length}")
    weights = arch.weights(branch).unbind(0)  # one operator for all layers' rows (not one select per layer)
    return [KVMixture(space.candidates(branch, layer), weights[layer], naive=naive, recompute=recompute)
            for layer in range(len(weights))]


@contextlib.contextmanager
def constant(module):
    """``module``'s trainable parameters act as constants in the passes built inside (no gradients for them): a
    search pass that updates the alphas need not differentiate the prompts, and the other way round."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
