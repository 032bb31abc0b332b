"""The tensors of a TorchScript archive (OpenAI's CLIP file format), read without running any of its code.

``torch.jit.load`` compiles the archive's ``code/`` and runs it (a module's ``__setstate__`` runs while loading), so a
weights file from a mirror could run anything. Here the archive is read as data: ``data.pkl`` goes through an
unpickler that knows only the tensor-rebuild globals and turns every ``__torch__.*`` module into an inert record;
storages come from the zip's ``data/`` records. Anything else in the pickle is refused by name.
"""
import pickle
import zipfile

import torch

from dpl.errors import BackboneError

# legacy storage class names a TorchScript data.pkl writes -> dtype of its elements
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}


class _ScriptObject:
    """An inert stand-in for a ``__torch__.*`` object: keeps the pickled state, has no methods of the file."""
    script_name = "?"

    def __setstate__(self, state):
        self.state = state


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    return torch.as_strided(storage, tuple(size), tuple(stride), offset)


def _identity(value, *args):
    return value


def torchscript_layout(file):
    """The archive's folder name (``archive`` for files torch writes today) when ``file`` is a TorchScript zip, else
    None (a torch.save zip, another file, or not a zip)."""
    if not zipfile.is_zipfile(file):
        return None
    with zipfile.ZipFile(file) as z:
        names = z.namelist()
    prefixes = {n.split("/", 1)[0] for n in names if n.count("/") == 1 and n.endswith("/data.pkl")}
    for prefix in prefixes:
        if f"{prefix}/constants.pkl" in names or any(n.startswith(f"{prefix}/code/") for n in names):
            return prefix
    return None


class _Reader(pickle.Unpickler):
    def __init__(self, fileobj, zip_file, prefix, file):
        super().__init__(fileobj)
        self.zip, self.prefix, self.file = zip_file, prefix, file
        self.storages = {}
        self.classes = {}

    def find_class(self, module, name):
        if module.startswith("__torch__"):
            key = f"{module}.{name}"
            if key not in self.classes:
                self.classes[key] = type("ScriptObject", (_ScriptObject,), {"script_name": key})
            return self.classes[key]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        if module == "torch.jit._pickle" and name in ("restore_type_tag", "build_intlist", "build_doublelist",
                                                       "build_boollist", "build_tensorlist"):
            return _identity
        raise BackboneError(f"CLIP weights file {self.file}: its TorchScript data.pkl asks for {module}.{name}, "
                            "which is not part of a weights file (only tensors and module records are read; "
                            "nothing in the file is run). Replace it with the official file.")

    def persistent_load(self, saved_id):
        if not (isinstance(saved_id, tuple) and len(saved_id) == 5 and saved_id[0] == "storage"
                and isinstance(saved_id[1], torch.dtype)):
            raise BackboneError(f"CLIP weights file {self.file}: data.pkl refers to {saved_id!r}, not a tensor "
                                "storage of the archive.")
        _, dtype, key, _location, numel = saved_id
        if key not in self.storages:
            record = f"{self.prefix}/data/{key}"
            try:
                raw = bytearray(self.zip.read(record))
            except KeyError:
                raise BackboneError(f"CLIP weights file {self.file} has no record {record} that its data.pkl "
                                    "names: the file is truncated or damaged.") from None
            itemsize = torch.empty((), dtype=dtype).element_size()
            if len(raw) < numel * itemsize:
                raise BackboneError(f"CLIP weights file {self.file}: record {record} holds {len(raw)} bytes, "
                                    f"expected {numel * itemsize} ({numel} x {dtype}): the file is damaged.")
            self.storages[key] = torch.frombuffer(raw, dtype=dtype, count=numel) if numel else torch.empty(0, dtype=dtype)
        return self.storages[key]


def _tensors(obj, prefix, out, file):
    """Every tensor under module record ``obj``, by dotted attribute name (the names ``state_dict()`` gives)."""
    if not isinstance(obj.state if hasattr(obj, "state") else None, dict):
        raise BackboneError(f"CLIP weights file {file}: the TorchScript object {obj.script_name} at "
                            f"'{prefix.rstrip('.') or '<root>'}' keeps its state in its own code (a __setstate__), "
                            "which is not a weights file's layout; it was not run. Replace it with the official file.")
    for name, value in obj.state.items():
        if torch.is_tensor(value):
            out[prefix + name] = value
        elif isinstance(value, _ScriptObject):
            _tensors(value, f"{prefix}{name}.", out, file)


def read_torchscript_state_dict(file, prefix):
    """``{name: tensor}`` of the TorchScript archive ``file`` (whose folder is ``prefix``), with no code run."""
    with zipfile.ZipFile(file) as z:
        byteorder = f"{prefix}/byteorder"
        if byteorder in z.namelist() and z.read(byteorder).strip() not in (b"little", b""):
            raise BackboneError(f"CLIP weights file {file} stores big-endian tensors; expected OpenAI's "
                                "little-endian archive.")
        with z.open(f"{prefix}/data.pkl") as f:
            try:
                root = _Reader(f, z, prefix, file).load()
            except BackboneError:
                raise
            except Exception as e:
                raise BackboneError(f"CLIP weights file {file}: its TorchScript data.pkl could not be read "
                                    f"({type(e).__name__}: {e}); the file is damaged.") from e
    if not isinstance(root, _ScriptObject):
        raise BackboneError(f"CLIP weights file {file}: its TorchScript data.pkl holds a {type(root).__name__}, "
                            "not a module.")
    out = {}
    _tensors(root, "", out, file)
    return out  # views of the per-record buffers: build_model copies them into the model
