"""Name -> class registries (Dassl's ``Registry``), with a "did you mean" on unknown names."""

from dpl.errors import UnknownNameError, did_you_mean


class Registry:
    """Maps names to objects; ``register()`` works as a decorator or a call.

    >>> TRAINER_REGISTRY = Registry("TRAINER")
    >>> @TRAINER_REGISTRY.register()
    ... class CoOp: ...
    """

    def __init__(self, name):
        self._name = name
        self._obj_map = {}

    def _do_register(self, name, obj, force=False):
        if name in self._obj_map and not force:
            raise KeyError(f'An object named "{name}" was already registered in the "{self._name}" registry')
        self._obj_map[name] = obj

    def register(self, obj=None, force=False):
        if obj is None:
            def wrapper(fn_or_class):
                self._do_register(fn_or_class.__name__, fn_or_class, force=force)
                return fn_or_class
            return wrapper
        self._do_register(obj.__name__, obj, force=force)
        return obj

    def get(self, name):
        if name not in self._obj_map:
            raise UnknownNameError(self.unknown_message(name))
        return self._obj_map[name]

    def unknown_message(self, name):
        return (f'Unknown {self._name.lower()} name "{name}".{did_you_mean(name, self._obj_map)} '
                f"Registered: {', '.join(sorted(self._obj_map))}.")

    def registered_names(self):
        return list(self._obj_map.keys())

    def __contains__(self, name):
        return name in self._obj_map
