"""``layout.png``: per branch, the final length probabilities per layer (argmax marked) and how the argmax
moved over the epochs (from the saved alpha files)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

BRANCHES = ("vision", "text")


def plot_search(probabilities, history, path, title=""):
    """``probabilities``: branch -> (L, N+1); ``history``: [(epoch, {branch: [[...]]})]. Writes ``path``."""
    from dpl.engine.utils.io import atomic_open

    fig, axes = plt.subplots(2, 2, figsize=(11, 8), squeeze=False)
    for col, branch in enumerate(BRANCHES):
        p = np.asarray(probabilities[branch], dtype=float)
        ax = axes[0][col]
        im = ax.imshow(p, aspect="auto", cmap="viridis", vmin=0.0, vmax=max(float(p.max()), 1e-6))
        best = p.argmax(-1)
        ax.scatter(best, np.arange(len(best)), marker="x", color="red", label="argmax")
        ax.set_title(f"{branch}: P(length) per layer")
        ax.set_xlabel("prompt length")
        ax.set_ylabel("layer")
        ax.set_xticks(range(p.shape[1]))
        fig.colorbar(im, ax=ax)
        ax = axes[1][col]
        if history:
            epochs = [e for e, _ in history]
            argmax = np.stack([np.asarray(h[branch]).argmax(-1) for _, h in history], axis=1)  # (L, E)
            im = ax.imshow(argmax, aspect="auto", cmap="magma", vmin=0, vmax=p.shape[1] - 1,
                           extent=(epochs[0] - 0.5, epochs[-1] + 0.5, len(best) - 0.5, -0.5))
            fig.colorbar(im, ax=ax, label="argmax length")
        ax.set_title(f"{branch}: argmax length over epochs")
        ax.set_xlabel("epoch")
        ax.set_ylabel("layer")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=80)
    plt.close(fig)
    return path
