"""The repository's own top-level packages ``datasets/`` and ``trainers/`` (CoOp's layout, run from the repository).

The installed distribution holds ``dpl`` only, so it never claims the names ``datasets`` (Hugging Face's package, in
most ML environments) or ``trainers``. Code in ``dpl`` that needs them imports them here, by location: from the
checkout that holds this ``dpl`` (an editable install or a run from the repository), else from the working directory
when it is a checkout. ``import datasets`` elsewhere still gives whatever the environment has installed.

This is the one seam between the library and the repository's packages: no other module of ``dpl`` imports
``datasets``, ``trainers`` or ``train`` by name (checked by import-linter, pyproject.toml [tool.importlinter]).
"""
import importlib.util
import os
import sys

from dpl.errors import ConfigError

PACKAGES = ("datasets", "trainers")


def _is_checkout(folder):
    return all(os.path.isfile(os.path.join(folder, name, "__init__.py")) for name in PACKAGES)


def repo_root():
    """The checkout whose ``datasets/`` and ``trainers/`` belong with this ``dpl``; ConfigError when there is none."""
    beside_dpl = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for candidate in (beside_dpl, os.getcwd()):
        if _is_checkout(candidate):
            return candidate
    raise ConfigError(f"Cannot find the repository's datasets/ and trainers/ folders: neither {beside_dpl} (where dpl "
                      f"is) nor the working directory {os.getcwd()} holds them. Install the project from its "
                      "checkout with pip install -e . or run from the repository folder.")


def _origin(module):
    spec = getattr(module, "__spec__", None)
    path = getattr(module, "__file__", None) or (spec.origin if spec is not None else None)
    return os.path.realpath(path) if path and os.path.exists(path) else None


def import_repo_package(name):
    """The repository's package ``name`` ("datasets" or "trainers"), registered as ``sys.modules[name]`` so that its
    own absolute imports (``from datasets.base import ...``) resolve to it."""
    if name not in PACKAGES:
        raise ValueError(f"{name!r} is not one of the repository's top-level packages {PACKAGES}")
    loaded = sys.modules.get(name)
    if loaded is not None:
        origin = _origin(loaded)
        if origin is None:  # made in memory on purpose (a test's stand-in): use it
            return loaded
        root = repo_root()
        init = os.path.realpath(os.path.join(root, name, "__init__.py"))
        if origin == init:
            return loaded
        raise ConfigError(f"Another package named {name} ({origin}) was imported in this process before the "
                          f"project's own {name}/ ({init}); the two cannot both be loaded under one name. Import the "
                          f"project's first (or run train.py, which does), or keep the other package out of the process.")
    folder = os.path.join(repo_root(), name)
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, "__init__.py"),
                                                  submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def import_repo_module(dotted):
    """A module inside one of the repository's packages (``"datasets.folder"``), its package loaded from the checkout
    first (``import_repo_package``)."""
    import_repo_package(dotted.split(".", 1)[0])
    return importlib.import_module(dotted)
