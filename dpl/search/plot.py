"""``layout.png``: per branch, the final length probabilities per layer (argmax marked) and how the argmax
moved over the epochs (from the saved alpha files); the title names the run, the search's warnings are on it."""
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
