"""Search pictures: ``layout.png`` of one search (per branch, the final length probabilities per layer with the argmax
marked, and how the argmax moved over the epochs; the title names the run, the search's warnings are on it) and the
heatmap of many searched layouts (datasets x seeds)."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

BRANCHES = ("vision", "text")


def _integer_ticks(ax):
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def search_figure(probabilities, history, title="", notes=()):
    """The figure: ``probabilities`` branch -> (L, N+1); ``history`` [(epoch, {branch: [[...]]})]; ``notes`` the
    collapse / undecided warnings, printed on it."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5 if notes else 8), squeeze=False)
    for col, branch in enumerate(BRANCHES):
        p = np.asarray(probabilities[branch], dtype=float)
        ax = axes[0][col]
        # the scale spans the values present: after a short search they sit near 1/(N+1), and a 0..1 scale
        # would paint every cell the same colour
        low, high = float(p.min()), float(p.max())
        im = ax.imshow(p, aspect="auto", cmap="viridis", vmin=low, vmax=high if high > low else low + 1e-6)
        best = p.argmax(-1)
        ax.scatter(best, np.arange(len(best)), marker="x", color="red", label="argmax")
        ax.set_title(f"{branch}: P(length) per layer")
        ax.set_xlabel("prompt length")
        ax.set_ylabel("layer")
        _integer_ticks(ax)
        fig.colorbar(im, ax=ax, label="probability")
        ax = axes[1][col]
        if history:
            epochs = [e for e, _ in history]
            argmax = np.stack([np.asarray(h[branch]).argmax(-1) for _, h in history], axis=1)  # (L, E)
            im = ax.imshow(argmax, aspect="auto", cmap="magma", vmin=0, vmax=p.shape[1] - 1,
                           extent=(epochs[0] - 0.5, epochs[-1] + 0.5, len(best) - 0.5, -0.5))
            fig.colorbar(im, ax=ax, label="argmax length", ticks=MaxNLocator(integer=True))
        ax.set_title(f"{branch}: argmax length over epochs")
        ax.set_xlabel("epoch")
        ax.set_ylabel("layer")
        _integer_ticks(ax)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06 if notes else 0, 1, 1))
    if notes:
        fig.text(0.01, 0.01, "\n".join(f"WARNING: {n}" for n in notes), color="firebrick", fontsize=9,
                 va="bottom", wrap=True)
    return fig


def plot_search(probabilities, history, path, title="", notes=()):
    """Write ``search_figure(...)`` to ``path`` (atomic); returns ``path``."""
    from dpl.engine.utils.io import atomic_open

    fig = search_figure(probabilities, history, title, notes)
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=80)
    plt.close(fig)
    return path


def plot_layout_heatmap(labels, groups, matrices, max_length, path, title="Searched prompt lengths per layer"):
    """One PNG of many searched layouts: per branch a heatmap, rows ``labels`` (one per dataset and seed, ``groups``
    their dataset: a line between datasets), columns layers, each cell coloured and numbered with its length;
    NaN cells (a shallower backbone) stay blank. ``matrices``: branch -> rows x layers."""
    from dpl.engine.utils.io import atomic_open, mkdir_if_missing

    n_rows = len(labels)
    widths = [len(matrices[b][0]) for b in BRANCHES]
    cmap = plt.get_cmap("viridis", max_length + 1).copy()
    cmap.set_bad("white")
    fig, axes = plt.subplots(1, 2, squeeze=False, gridspec_kw={"width_ratios": widths},
                             figsize=(2.5 + 0.45 * sum(widths), 1.6 + 0.32 * n_rows))
    for col, branch in enumerate(BRANCHES):
        ax = axes[0][col]
        m = np.ma.masked_invalid(np.asarray(matrices[branch], dtype=float))
        im = ax.imshow(m, aspect="auto", cmap=cmap, vmin=-0.5, vmax=max_length + 0.5, interpolation="nearest")
        for (r, l), value in np.ndenumerate(m.filled(np.nan)):
            if not np.isnan(value):
                ax.text(l, r, str(int(value)), ha="center", va="center", fontsize=7,
                        color="white" if value < max_length / 2 else "black")
        for r in range(1, n_rows):  # a line where the dataset changes
            if groups[r] != groups[r - 1]:
                ax.axhline(r - 0.5, color="red", linewidth=1.2)
        ax.set_title(branch)
        ax.set_xlabel("layer")
        ax.set_xticks(range(widths[col]))
        ax.set_yticks(range(n_rows))
        ax.set_yticklabels(labels if col == 0 else [""] * n_rows, fontsize=8)
    fig.colorbar(im, ax=axes[0].tolist(), ticks=range(max_length + 1), label="prompt length (tokens)")
    fig.suptitle(title)
    mkdir_if_missing(os.path.dirname(os.path.abspath(path)))
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)
    return path
