"""Every ``torch.load`` in the repository passes ``weights_only=True`` explicitly: with
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (set in many environments) a load that leaves it out runs whatever a
pickle in the file says. The sites are found by parsing every .py file, so a new one without it fails here, and
each site outside tests/ is fed a payload file (a pickle that would create a folder) and must refuse it."""
import ast
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "output", "data", "__pycache__"}


def python_files():
    for dirpath, dirnames, filenames in os.walk(REPO):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in filenames:
            if name.endswith(".py"):
                yield Path(dirpath) / name


def is_torch_load(node):
    f = node.func
    return isinstance(f, ast.Attribute) and f.attr == "load" and isinstance(f.value, ast.Name) and f.value.id == "torch"


class _LoadSites(ast.NodeVisitor):
    """``torch.load(...)`` calls with their enclosing function."""

    def __init__(self):
        self.function, self.found = "<module>", []

    def visit_FunctionDef(self, node):
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node):
        if is_torch_load(node):
            safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                       for k in node.keywords)
            self.found.append((self.function, node.lineno, safe))
        self.generic_visit(node)


def load_sites():
    """[(relative file, enclosing function, line, passes weights_only=True)] of every ``torch.load(...)`` call."""
    sites = []
    for path in python_files():
        visitor = _LoadSites()
        visitor.visit(ast.parse(path.read_text(), filename=str(path)))
        sites += [(str(path.relative_to(REPO)), name, line, safe) for name, line, safe in visitor.found]
    return sites


def _load_checkpoint(path):
    from dpl.engine.utils.torchtools import load_checkpoint
    return load_checkpoint(path)


def _read_backbone(path):
    from dpl.backbones.loading import _read_state_dict
    return _read_state_dict(path)


def _read_dassl_checkpoint(path):
    from dpl.engine.utils.dassl_compat import read_checkpoint
    return read_checkpoint(path, trust=False)


# (file, function) of each load site outside tests/ -> how to call it on a file
PAYLOAD_CALLS = {
    ("dpl/engine/utils/torchtools.py", "load_checkpoint"): _load_checkpoint,
    ("dpl/backbones/loading.py", "_read_state_dict"): _read_backbone,
    ("dpl/engine/utils/dassl_compat.py", "read_checkpoint"): _read_dassl_checkpoint,
}


# The one load allowed to unpickle fully: behind the user's explicit --trust-checkpoint (Dassl-era checkpoints).
TRUSTED_OPT_IN = {("dpl/engine/utils/dassl_compat.py", "_load_trusted")}


def test_every_torch_load_passes_weights_only_true():
    sites = load_sites()
    assert sites, "no torch.load found: the scan is broken"
    unsafe = [f"{file}:{line} (in {name})" for file, name, line, safe in sites
              if not safe and (file, name) not in TRUSTED_OPT_IN]
    assert not unsafe, "torch.load without weights_only=True at " + ", ".join(unsafe)


def test_every_load_site_outside_tests_is_checked_with_a_payload():
    found = {(file, name) for file, name, _, _ in load_sites()
             if not file.startswith("tests/") and (file, name) not in TRUSTED_OPT_IN}
    assert found == set(PAYLOAD_CALLS), ("add each new torch.load site to PAYLOAD_CALLS (and pass "
                                         f"weights_only=True): found {sorted(found)}")


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("site", sorted(PAYLOAD_CALLS), ids=lambda s: f"{s[0]}:{s[1]}")
def test_a_pickle_payload_is_refused_even_when_the_environment_forces_unsafe_loads(site, tmp_path, monkeypatch):
    from dpl.errors import DPLError

    marker = tmp_path / "payload_ran"
    path = tmp_path / "payload.pth"
    torch.save({"state_dict": Payload(str(marker))}, path)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(DPLError, match="payload.pth"):
        PAYLOAD_CALLS[site](str(path))
    assert not marker.exists(), f"{site} executed the pickle in {path}"
