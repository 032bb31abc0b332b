"""Every trainer module in this package registers itself on import; ``extend_cfg`` adds their config nodes."""
import importlib
import pkgutil

_MODULES = [importlib.import_module(f"{__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)]


def extend_cfg(cfg):
    for module in _MODULES:
        if hasattr(module, "extend_cfg"):
            module.extend_cfg(cfg)
