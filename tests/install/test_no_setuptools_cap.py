"""Installing the project never rolls back setuptools (issue 21 item 8): no runtime requirement caps a package, the
build does not need an old setuptools, and ``import clip`` works where ``pkg_resources`` is gone (setuptools >= 81),
through dpl/clip_import.py's stand-in."""
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[2]
CAPS = ("<", "<=", "==", "~=", "===")

# Run in a fresh interpreter: pkg_resources made unimportable (as with setuptools >= 81), then clip imported the
# way the project does (dpl first) and used for what clip.py uses pkg_resources for (its torch version check).
WITHOUT_PKG_RESOURCES = """
import sys

class NoPkgResources:
    def find_spec(self, name, path=None, target=None):
        if name == "pkg_resources" or name.startswith("pkg_resources."):
            raise ModuleNotFoundError("No module named 'pkg_resources'", name=name)

sys.meta_path.insert(0, NoPkgResources())
try:
    import pkg_resources
    sys.exit("pkg_resources is still importable: the test would prove nothing")
except ModuleNotFoundError:
    pass
import dpl
import clip
from clip.model import CLIP
assert "ViT-B/16" in clip.available_models()
assert sys.modules["pkg_resources"].__doc__.startswith("dpl's stand-in")
print("clip imported without pkg_resources")
"""


def _project():
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_no_runtime_requirement_is_capped():
    for text in _project()["project"]["dependencies"]:
        req = Requirement(text)
        capped = [str(s) for s in req.specifier if s.operator in CAPS]
        assert not capped, f"pyproject.toml dependency {text!r} caps {req.name} ({capped}): it would downgrade it"
    names = {Requirement(r).name for r in _project()["project"]["dependencies"]}
    assert "setuptools" not in names  # a runtime dependency on setuptools only ever served pkg_resources


def test_build_does_not_need_an_old_setuptools():
    for text in _project()["build-system"]["requires"]:
        req = Requirement(text)
        assert not [s for s in req.specifier if s.operator in CAPS], f"build-system requires {text!r} is capped"


def test_import_clip_without_pkg_resources():
    proc = subprocess.run([sys.executable, "-c", WITHOUT_PKG_RESOURCES], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "clip imported without pkg_resources" in proc.stdout


def test_the_real_pkg_resources_is_never_replaced():
    from dpl.clip_import import ensure_pkg_resources, pkg_resources_missing

    if pkg_resources_missing():
        pytest.skip("this environment has no pkg_resources (the stand-in is in use)")
    assert ensure_pkg_resources() is False
    assert not (getattr(sys.modules.get("pkg_resources"), "__doc__", None) or "").startswith("dpl's stand-in")


def test_ci_installs_the_newest_setuptools_before_the_project():
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    upgrade = next((i for i, line in enumerate(lines) if line.startswith("pip install -U setuptools")), None)
    assert upgrade is not None, ".ci/run does not install the newest setuptools"
    assert upgrade < next(i for i, line in enumerate(lines) if 'pip install -e ".[test]"' in line)
