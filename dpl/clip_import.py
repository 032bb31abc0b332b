"""``import clip`` without setuptools' ``pkg_resources``.

clip-anytorch (2.5, 2.6) does ``from pkg_resources import packaging`` at import time, only to call
``packaging.version.parse``. setuptools 81 removed ``pkg_resources``; pinning an old setuptools would roll back a
shared environment for one import. So, when (and only when) ``pkg_resources`` cannot be found, a tiny module of that
name is registered that holds just ``packaging``, before clip is imported. ``dpl/__init__.py`` calls this, so every
``import clip`` made after ``import dpl`` (dpl/, trainers/, the tests through tests/conftest.py) goes through it.
"""
import importlib.util
import sys
import types

SHIM_NAME = "pkg_resources"


def pkg_resources_missing():
    """Whether ``import pkg_resources`` would fail (without importing it: the real one is slow and warns)."""
    try:
        return importlib.util.find_spec(SHIM_NAME) is None
    except (ImportError, ValueError):  # a finder that refuses the name, or a None entry in sys.modules
        return True


def ensure_pkg_resources():
    """Register the ``pkg_resources.packaging`` shim when the real module is missing; returns whether it did."""
    if not pkg_resources_missing():
        return False
    import packaging.version  # what clip uses: packaging.version.parse

    shim = types.ModuleType(SHIM_NAME, "dpl's stand-in: only .packaging, for clip-anytorch (dpl/clip_import.py)")
    shim.packaging = sys.modules["packaging"]
    sys.modules[SHIM_NAME] = shim
    return True
