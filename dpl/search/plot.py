"""Search pictures: ``layout.png`` of one search (per branch, the final length probabilities per layer with the argmax
marked, and how the argmax moved over the epochs; the title names the run, the search's warnings are on it) and the
heatmap of many searched layouts (datasets x seeds)."""
import os

import numpy as np

BRANCHES = ("vision", "text")


def _pyplot():
    """matplotlib on first draw, not at import: it is half a second of every train.py start, and only the end of a
    search and the parse script draw. Agg: no display on a cluster node."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _integer_ticks(ax):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def search_figure(probabilities, history, title="", notes=()):
    """The figure: ``probabilities`` branch -> (L, N+1); ``history`` [(epoch, {branch: [[...]]})]; ``notes`` the
    collapse / undecided warnings, printed on it."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
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
    from dpl.file_io import atomic_open

    fig = search_figure(probabilities, history, title, notes)
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=80)
    _pyplot().close(fig)
    return path


def layout_heatmap_figure(labels, groups, matrices, max_length, title="Searched prompt lengths per layer"):
    """The figure of many searched layouts: per branch a heatmap, rows ``labels`` (one per search and seed, ``groups``
    their search: a line between searches), columns layers, each cell coloured and numbered with its length; NaN
    cells (a shallower backbone) stay blank. ``matrices``: branch -> rows x layers. Sized from its rows, layers and
    longest label, laid out by matplotlib's constrained layout so labels, titles and colorbar never overlap or
    leave the image."""
    plt = _pyplot()
    n_rows = len(labels)
    widths = [len(matrices[b][0]) for b in BRANCHES]
    cmap = plt.get_cmap("viridis", max_length + 1).with_extremes(bad="white")
    label_inches = 0.075 * max(len(label) for label in labels)  # 9 pt text: about 0.075 in a character
    figsize = (max(7.0, 1.6 + label_inches + 0.32 * sum(widths)), max(3.5, 1.3 + 0.24 * n_rows))
    fig, axes = plt.subplots(1, 2, squeeze=False, gridspec_kw={"width_ratios": widths}, figsize=figsize,
                             layout="constrained", dpi=150)
    for col, branch in enumerate(BRANCHES):
        ax = axes[0][col]
        m = np.ma.masked_invalid(np.asarray(matrices[branch], dtype=float))
        im = ax.imshow(m, aspect="auto", cmap=cmap, vmin=-0.5, vmax=max_length + 0.5, interpolation="nearest")
        for (r, l), value in np.ndenumerate(m.filled(np.nan)):
            if not np.isnan(value):
                ax.text(l, r, str(int(value)), ha="center", va="center", fontsize=7,
                        color="white" if value < max_length / 2 else "black")
        for r in range(1, n_rows):  # a line where the search changes
            if groups[r] != groups[r - 1]:
                ax.axhline(r - 0.5, color="red", linewidth=1.2)
        ax.set_title(branch, fontsize=10)
        ax.set_xlabel("layer", fontsize=9)
        ax.set_xticks(range(widths[col]))
        ax.set_xticklabels([str(i) for i in range(widths[col])], fontsize=7)
        ax.set_yticks(range(n_rows))
        if col == 0:
            ax.set_yticklabels(labels, fontsize=9)
        else:
            ax.set_yticklabels([])
    fig.colorbar(im, ax=axes[0].tolist(), ticks=range(max_length + 1), label="prompt length (tokens)")
    fig.suptitle(title, fontsize=11)
    return fig


def plot_layout_heatmap(labels, groups, matrices, max_length, path, title="Searched prompt lengths per layer"):
    """Write ``layout_heatmap_figure`` as a PNG at ``path`` (atomically)."""
    from dpl.file_io import atomic_open, mkdir_if_missing

    fig = layout_heatmap_figure(labels, groups, matrices, max_length, title)
    mkdir_if_missing(os.path.dirname(os.path.abspath(path)))
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png")
    _pyplot().close(fig)
    return path
