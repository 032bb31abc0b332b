"""Alpha probabilities per epoch: ``<output_dir>/alphas/epoch_<e>.json`` = {"vision": [[...]], "text": [[...]]}."""
import os
import re

from dpl.file_io import read_json, write_json

BRANCHES = ("vision", "text")
ALPHA_DIR = "alphas"
_NAME = re.compile(r"^epoch_(\d+)\.json$")


def alpha_path(output_dir, epoch):
    return os.path.join(output_dir, ALPHA_DIR, f"epoch_{epoch}.json")


def save_alpha_probabilities(output_dir, epoch, probabilities):
    """``probabilities``: {"vision": (Lv, N+1), "text": (Lt, N+1)} tensors; written atomically, named by branch."""
    data = {b: [[float(p) for p in row] for row in probabilities[b].detach().float().cpu().tolist()]
            for b in BRANCHES}
    path = alpha_path(output_dir, epoch)
    write_json(data, path, indent=1)
    return path


def load_alpha_history(output_dir):
    """[(epoch, {"vision": [[...]], "text": [[...]]}), ...] sorted by epoch ([] when none was saved)."""
    folder = os.path.join(output_dir, ALPHA_DIR)
    if not os.path.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        m = _NAME.match(name)
        if m:
            found.append((int(m.group(1)), read_json(os.path.join(folder, name))))
    return sorted(found, key=lambda item: item[0])
