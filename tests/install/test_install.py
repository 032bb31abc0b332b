"""What ``pip install`` puts into a user's environment: the distribution holds ``dpl`` only (never top-level
``datasets`` / ``trainers``, the first being Hugging Face's package name), torch is not capped, and the project runs
when another package named ``datasets`` comes first on the path. Wheels are built offline from a copy of the tree."""
import ast
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[2]
OWN_TOP_LEVEL = {"dpl"}
REPO_PACKAGES = ("datasets", "trainers")


def _copy_tree(dst):
    """The files a build reads, without build outputs of the working tree."""
    dst.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dst / name)
    for name in ("dpl", *REPO_PACKAGES):
        shutil.copytree(REPO / name, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dst


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """(source copy, regular wheel, editable wheel), built with setuptools in this environment (no network)."""
    tmp = tmp_path_factory.mktemp("build")
    src, out = _copy_tree(tmp / "src"), tmp / "out"
    out.mkdir()
    code = ("import sys; from setuptools import build_meta as b; out = sys.argv[1]; "
            "names = [b.build_wheel(out), b.build_editable(out)]; print('BUILT', *names)")
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=src, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    regular, editable = proc.stdout.split("BUILT ")[-1].split()
    return src, out / regular, out / editable


def _top_level(names):
    return {n.split("/", 1)[0] for n in names if "/" in n} | {n for n in names if "/" not in n}


def test_wheel_installs_dpl_only(wheels):
    _, wheel, _ = wheels
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    top = {t for t in _top_level(names) if not t.endswith(".dist-info")}
    assert top == OWN_TOP_LEVEL, f"the wheel claims top-level names {sorted(top - OWN_TOP_LEVEL)}"
    for data in ("dpl/resources/imagenet_classnames.txt", "dpl/resources/open_clip/dpl-tiny.json"):
        assert data in names, f"package data {data} is missing from the wheel"


def test_editable_install_maps_dpl_only(wheels, tmp_path):
    """The editable wheel's import hooks, installed into a folder of their own, find ``dpl`` in the checkout and
    leave ``datasets`` / ``trainers`` to the rest of the environment."""
    src, _, editable = wheels
    site_dir = tmp_path / "site"
    with zipfile.ZipFile(editable) as z:
        z.extractall(site_dir)
    mapped = set()
    for finder in site_dir.glob("__editable__*finder.py"):
        mapping = re.search(r"MAPPING[^=]*=\s*(\{.*?\})", finder.read_text(), re.S)
        mapped |= set(ast.literal_eval(mapping.group(1)))
    for name in REPO_PACKAGES:
        assert name not in mapped, f"the editable install maps top-level {name!r}"
    # The finders other editable projects left in this environment are dropped: only this wheel's hooks count.
    code = (
        "import importlib.util, site, sys\n"
        "sys.meta_path = [f for f in sys.meta_path if not str(getattr(f, '__module__', '')).startswith('__editable__')]\n"
        "for name in [m for m in sys.modules if m.startswith('__editable__')]:\n"
        "    del sys.modules[name]\n"
        "sys.path.insert(0, sys.argv[1])  # before the environment's own copy of a finder module of the same name\n"
        "site.addsitedir(sys.argv[1])\n"
        "for name in ('dpl', 'datasets', 'trainers'):\n"
        "    spec = importlib.util.find_spec(name)\n"
        "    print(name, spec.origin if spec else None)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(site_dir)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stderr
    found = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert found["dpl"].startswith(str(src / "dpl")), found
    for name in REPO_PACKAGES:
        assert not found[name].startswith(str(src)), f"outside the checkout, import {name} finds {found[name]}"


def test_torch_is_not_capped_and_extras_are_named():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = {Requirement(r).name: Requirement(r) for r in project["dependencies"]}
    for name in ("torch", "torchvision"):
        upper = [s for s in requirements[name].specifier if s.operator in ("<", "<=", "==", "~=")]
        assert not upper, f"{name} is capped ({requirements[name].specifier}); CI pins builds in .ci/constraints.txt"
    extras = project["optional-dependencies"]
    assert {"open_clip", "tensorboard", "test"} <= set(extras)
    readme = (REPO / "README.md").read_text()
    for extra in ("open_clip", "tensorboard", "sweep"):
        assert f"[{extra}]" in readme, f"README does not name the [{extra}] extra"


def test_ci_pins_builds_with_a_constraints_file_and_runs_the_readme_command():
    run = (REPO / ".ci" / "run").read_text()
    match = re.search(r"PIP_CONSTRAINT=(\S+)", run)
    assert match, ".ci/run does not export PIP_CONSTRAINT"
    pins = (REPO / match.group(1).strip("\"'").replace("$PWD/", "")).read_text()
    assert re.search(r"^torch==", pins, re.M) and re.search(r"^torchvision==", pins, re.M)
    readme_command = 'pip install -e ".[test]" && python -m pytest -q'
    assert readme_command in (REPO / "README.md").read_text()
    assert run.rstrip().splitlines()[-1].strip() == readme_command


# ---- another package named ``datasets`` first on the path (Hugging Face's, here a stand-in) ----------------
@pytest.fixture()
def other_datasets(tmp_path):
    """A folder holding a package ``datasets`` that is not the project's, as Hugging Face's would be."""
    site_dir = tmp_path / "other_site"
    (site_dir / "datasets").mkdir(parents=True)
    (site_dir / "datasets" / "__init__.py").write_text("WHOSE = 'not the project'\n")
    return site_dir


def test_check_data_outside_the_repository_uses_the_projects_datasets(other_datasets, tmp_path):
    from dpl.testing import make_fake_dataset

    root = tmp_path / "data"
    make_fake_dataset("Caltech101", root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(other_datasets), str(REPO)])}
    proc = subprocess.run([sys.executable, "-m", "dpl.check_data", "--root", str(root), "caltech101"], cwd=elsewhere,
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Caltech101" in proc.stdout
    # and in a fresh process there, `import datasets` is still the other package
    proc = subprocess.run([sys.executable, "-c", "import datasets; print(datasets.WHOSE)"], cwd=elsewhere,
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.stdout.strip() == "not the project", proc.stderr


def test_the_other_package_loaded_first_is_a_clear_error(other_datasets, tmp_path):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import datasets; "
            "from dpl.repo_packages import import_repo_package; import_repo_package('datasets')")
    proc = subprocess.run([sys.executable, "-c", code, str(other_datasets)], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    assert "Another package named datasets" in proc.stderr and str(other_datasets) in proc.stderr
