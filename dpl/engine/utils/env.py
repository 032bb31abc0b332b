"""What a log needs to reproduce a run: package versions, CUDA, and the project's git commit."""
import os
import platform
import subprocess
import sys

import torch

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _version(dist):
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # not installed as a distribution
        return "not installed"


def git_commit(directory=PROJECT_DIR):
    """``<sha>`` (``+dirty`` with uncommitted changes) of the checkout holding the project, or None."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True,
                             timeout=10)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=directory,
                               capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def collect_env_info():
    import dpl

    try:
        import torchvision

        tv = torchvision.__version__
    except ImportError:
        tv = "not installed"
    rows = [
        ("Python", sys.version.replace("\n", " ")),
        ("Platform", platform.platform()),
        ("PyTorch", torch.__version__),
        ("torchvision", tv),
        ("clip-anytorch", _version("clip-anytorch")),
        ("dpl", getattr(dpl, "__version__", "unknown")),
        ("CUDA available", str(torch.cuda.is_available())),
    ]
    if torch.cuda.is_available():
        rows.append(("CUDA (torch build)", str(torch.version.cuda)))
        for i in range(torch.cuda.device_count()):
            rows.append((f"GPU {i}", torch.cuda.get_device_name(i)))
    rows.append(("torch threads", str(torch.get_num_threads())))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
