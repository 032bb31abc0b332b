"""How decided a search is: per-layer winning probability and margin, zero-length count, warnings."""
from dataclasses import dataclass, field

import torch

BRANCHES = ("vision", "text")


@dataclass
class LayoutDiagnostics:
    lengths: dict          # branch -> [argmax length per layer]
    confidence: dict       # branch -> [winning probability per layer]
    margin: dict           # branch -> [winner minus runner-up per layer]
    zero_layers: int
    total_layers: int
    mean_margin: float
    warnings: list = field(default_factory=list)

    def lines(self):
        out = []
        for b in BRANCHES:
            cells = " ".join(f"{k}({c:.2f},{m:+.2f})" for k, c, m in
                             zip(self.lengths[b], self.confidence[b], self.margin[b]))
            out.append(f"{b:>6} length(p,margin) per layer: {cells}")
        out.append(f"zero-length layers: {self.zero_layers}/{self.total_layers}; mean margin {self.mean_margin:.3f}")
        out.extend(f"WARNING: {w}" for w in self.warnings)
        return out


def diagnose(probabilities, collapse_fraction=0.75, undecided_margin=0.05):
    """``probabilities``: {"vision": (Lv, N+1), "text": (Lt, N+1)} softmaxed alphas."""
    lengths, confidence, margin = {}, {}, {}
    for b in BRANCHES:
        p = torch.as_tensor(probabilities[b]).float()
        top = p.topk(min(2, p.shape[-1]), dim=-1).values
        second = top[:, 1] if top.shape[-1] > 1 else torch.zeros_like(top[:, 0])
        lengths[b] = p.argmax(-1).tolist()
        confidence[b] = top[:, 0].tolist()
        margin[b] = (top[:, 0] - second).tolist()
    all_lengths = [k for b in BRANCHES for k in lengths[b]]
    all_margins = [m for b in BRANCHES for m in margin[b]]
    zero = sum(1 for k in all_lengths if k == 0)
    total = len(all_lengths)
    mean_margin = sum(all_margins) / max(total, 1)
    warnings = []
    if total and zero / total >= collapse_fraction:
        warnings.append(f"search collapsed: {zero}/{total} layers chose length 0 (>= COLLAPSE_ZERO_FRACTION "
                        f"{collapse_fraction}); consider more epochs, ALPHA_WARMUP_EPOCHS or a smaller ALPHA_LR")
    if mean_margin < undecided_margin:
        warnings.append(f"search undecided: mean margin {mean_margin:.3f} < UNDECIDED_MARGIN {undecided_margin}; "
                        "the alphas barely moved from their initialisation (train longer)")
    return LayoutDiagnostics(lengths, confidence, margin, zero, total, mean_margin, warnings)
