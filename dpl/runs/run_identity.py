"""What identifies a run, and whether a run folder is finished for exactly this configuration.

A run's **fingerprint** is a flat dict of everything that decides its numbers:

- ``config.<KEY>``: the merged config, minus the keys that only say where things are or how often to log
  (``NOT_IDENTITY``); ``TRAINER.LAYOUT`` and ``MODEL.BACKBONE.PATH`` are replaced by what they point at;
- ``dataset.*``: the sha256 of the files that define the splits (split file, class lists), or a digest of the
  folder listing for a custom folder without a split file;
- ``backbone.sha256``: the weights file's hash (``built-in`` for tiny-random);
- ``layout.*``: the layout file's hash, or the spec (``uniform:2``, ``random:3``...);
- ``model.*`` / ``run.*``: for ``--eval-only``, the hash of each checkpoint evaluated and the epoch asked for;
- ``code.version``: the package version (the git commit is only logged: a doc edit must not orphan every run).

``train.py`` writes it into ``results.json``, ``layout.json`` and every checkpoint, refuses a folder whose outputs
carry another fingerprint, and refuses to resume from another configuration's checkpoints. The protocol scripts
(and a sweep runner) ask ``finished(...)`` before running a step::

    python -m dpl.runs.run_identity check [train.py arguments]
        exit 0: finished with this configuration (skip); 1: not finished (run it; an interrupted run resumes);
        2: the folder holds another configuration's run, or the arguments are wrong (message on stderr).
"""
import hashlib
import json
import os
import sys

from dpl.errors import ConfigError, DPLError

RESULTS_FILE = "results.json"
LAYOUT_FILE = "layout.json"
# What a finished run of a trainer leaves, the first being the one that marks it finished.
MARKERS = {"DPLSearch": (LAYOUT_FILE, RESULTS_FILE)}
DEFAULT_MARKERS = (RESULTS_FILE,)
# Keys that say where things are, or how often to log or save; they do not change a run's numbers.
NOT_IDENTITY = ("OUTPUT_DIR", "RESUME", "DATASET.ROOT", "MODEL.BACKBONE.PATH", "TRAINER.LAYOUT", "VERBOSE",
                "TRAIN.PRINT_FREQ", "TRAIN.CHECKPOINT_FREQ", "TRAIN.CHECKPOINT_KEEP", "TRAIN.TENSORBOARD")
SHOWN = 8  # differing keys named in a message


class OtherRunError(DPLError):
    """A folder holds the outputs of a run with another configuration."""


# ---- pieces of the fingerprint -----------------------------------------------------------------------------
_HASHES = {}


def file_sha256(path):
    """sha256 of a file's content (cached per process by path, size and modification time)."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def hashed_files():
    """The files this process hashed for fingerprints (their paths), e.g. to notice later that one changed."""
    return sorted({path for path, _, _ in _HASHES})


def _plain(value):
    """A JSON value as it reads back from a file (tuples become lists)."""
    return json.loads(json.dumps(value))


def _flatten(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def config_identity(cfg):
    return {f"config.{k}": _plain(v) for k, v in _flatten(cfg) if k not in NOT_IDENTITY}


def dataset_identity(cfg):
    from dpl.repo_packages import import_repo_module, import_repo_package

    cls = getattr(import_repo_package("datasets"), "ALL_DATASETS", {}).get(cfg.DATASET.NAME)
    if cls is None:  # a dataset registered by other code: its name (in the config) is all we know
        return {}
    base, folder_module = import_repo_module("datasets.base"), import_repo_module("datasets.folder")
    SPLIT_FILE, CustomFolder, folder_of = folder_module.SPLIT_FILE, folder_module.CustomFolder, folder_module.folder_of

    root = base.resolve_root(cfg)
    if cls is CustomFolder:
        folder = os.path.abspath(folder_of(cfg))
        # FOLDER as written (absolute or relative to ROOT) says where the files live, not what they are: one spelling
        named = {"config.DATASET.FOLDER": _folder_spelling(folder, root)}
        split = os.path.join(folder, SPLIT_FILE)
        if os.path.isfile(split):
            return {**named, f"dataset.{SPLIT_FILE}": file_sha256(split)}
        return {**named, "dataset.listing": _listing_digest(folder)}
    out = {}
    for path in cls.source_files(root):
        out[f"dataset.{os.path.basename(path)}"] = file_sha256(path) if os.path.isfile(path) else "missing"
    return out


def _folder_spelling(folder, root):
    """``folder`` relative to DATASET.ROOT when inside it (so a moved root changes nothing), else absolute."""
    relative = os.path.relpath(os.path.realpath(folder), os.path.realpath(root))
    return os.path.realpath(folder) if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative


def _listing_digest(folder):
    """Digest of a class-folder tree's relative file names and sizes (a custom dataset without split file). Hidden
    files and folders (``.DS_Store``, ``._*``) are left out, as the dataset reader leaves them out."""
    digest = hashlib.sha256()
    if not os.path.isdir(folder):
        return "missing"
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(n for n in filenames if not n.startswith(".")):
            path = os.path.join(dirpath, name)
            digest.update(f"{os.path.relpath(path, folder)}\0{os.path.getsize(path)}\n".encode())
    return digest.hexdigest()


def backbone_identity(cfg):
    from dpl.backbones.loading import local_weights_file
    from dpl.backbones.open_clip_backbone import is_open_clip_name

    name, path = cfg.MODEL.BACKBONE.NAME, cfg.MODEL.BACKBONE.PATH
    if not name:
        return {}
    if is_open_clip_name(name):  # MODEL.BACKBONE.PRETRAINED: a weights file (hashed), a tag or "random"
        pretrained = str(cfg.MODEL.BACKBONE.PRETRAINED).strip()
        file = os.path.expanduser(pretrained)
        if pretrained and os.path.isfile(file):
            return {"backbone.sha256": file_sha256(file)}
        return {"backbone.pretrained": pretrained}
    file = local_weights_file(name, path)
    if file is None:
        return {"backbone.sha256": "built-in" if name == "tiny-random" else "not on this machine"}
    return {"backbone.sha256": file_sha256(file)}


def layout_identity(cfg):
    spec = cfg.TRAINER.LAYOUT
    if spec and os.path.isfile(os.path.expanduser(spec)):
        return {"layout.sha256": file_sha256(os.path.expanduser(spec))}
    return {"layout.spec": spec}


def model_identity(model_dir, load_epoch=None):
    """sha256 of each checkpoint an evaluation of ``model_dir`` loads (the file ``load_model`` picks)."""
    from dpl.engine.utils.epoch_checkpoints import checkpoint_to_evaluate

    out = {}
    if not model_dir or not os.path.isdir(model_dir):
        return out
    for name in sorted(os.listdir(model_dir)):
        sub = os.path.join(model_dir, name)
        if not os.path.isdir(sub):
            continue
        path, _ = checkpoint_to_evaluate(sub, load_epoch)
        if path and os.path.isfile(path):
            out[f"model.{name}/{os.path.basename(path)}"] = file_sha256(path)
    return out


def run_fingerprint(cfg, eval_only=False, model_dir="", load_epoch=None):
    """The flat fingerprint of the run ``cfg`` (and train.py's ``--eval-only`` / ``--model-dir`` / ``--load-epoch``)
    describes. Call it once the dataset exists (the Demo dataset is generated on first use)."""
    import dpl

    fp = {**config_identity(cfg), **dataset_identity(cfg), **backbone_identity(cfg), **layout_identity(cfg),
          "run.eval_only": bool(eval_only), "code.version": dpl.__version__}
    if eval_only:
        fp["run.load_epoch"] = load_epoch
        fp.update(model_identity(model_dir, load_epoch))
    return _plain(fp)


# ---- comparing -----------------------------------------------------------------------------------------------
def differences(recorded, current):
    """[(key, recorded value, current value)] for every key whose values differ ("<absent>" when missing)."""
    absent = "<absent>"
    keys = sorted(set(recorded) | set(current))
    return [(k, recorded.get(k, absent), current.get(k, absent)) for k in keys
            if recorded.get(k, absent) != current.get(k, absent)]


def _shown(value):
    text = json.dumps(value) if not isinstance(value, str) else value
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):  # a sha256: its start tells them apart
        return f"sha256 {text[:12]}"
    return text if len(text) <= 200 else text[:200] + "..."


def describe(diffs):
    """``OPTIM.LR 0.0035 there, 0.5 now; ...`` for the first differing keys."""
    parts = [f"{k[len('config.'):] if k.startswith('config.') else k} {_shown(a)} there, {_shown(b)} now"
             for k, a, b in diffs[:SHOWN]]
    more = f" (and {len(diffs) - SHOWN} more)" if len(diffs) > SHOWN else ""
    return "; ".join(parts) + more


def _advice(folder):
    return (f"Nothing was overwritten. To run this configuration, use another output folder (OUTPUT= for the "
            f"scripts, --output-dir for train.py), or delete {folder} to replace that run.")


def recorded_fingerprint(path):
    """The fingerprint a results.json / layout.json carries (None when it has none); OtherRunError when unreadable."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise OtherRunError(f"{path} cannot be read ({e}), so whether its run is this configuration cannot be told. "
                            + _advice(os.path.dirname(path))) from None
    return data.get("fingerprint") if isinstance(data, dict) else None


def check_marker(path, fingerprint):
    """Raise OtherRunError unless the finished-run file ``path`` carries exactly ``fingerprint``."""
    recorded = recorded_fingerprint(path)
    folder = os.path.dirname(path)
    if recorded is None:
        raise OtherRunError(f"{path} carries no run fingerprint (an older version wrote it), so whether it belongs "
                            "to this configuration cannot be told. " + _advice(folder))
    diffs = differences(recorded, fingerprint)
    if diffs:
        raise OtherRunError(f"{folder} holds a finished run of another configuration ({os.path.basename(path)}): "
                            f"{describe(diffs)}. " + _advice(folder))


def markers_of(trainer_name):
    return MARKERS.get(trainer_name, DEFAULT_MARKERS)


def refuse_other_run(output_dir, trainer_name, fingerprint):
    """Before a run writes into ``output_dir``: OtherRunError when it holds another configuration's outputs.
    ``fingerprint`` may be a function, called only when there is an output to compare with."""
    for marker in markers_of(trainer_name):
        path = os.path.join(output_dir, marker)
        if os.path.isfile(path):
            check_marker(path, fingerprint() if callable(fingerprint) else fingerprint)


def check_checkpoint(checkpoint, path, fingerprint, accept_unfingerprinted=False):
    """Before a resume: OtherRunError when checkpoint ``path`` was written by another configuration, or carries no
    fingerprint (an older version wrote it) unless ``accept_unfingerprinted``; then a warning (str) is returned.
    Else None."""
    recorded = checkpoint.get("fingerprint")
    if recorded is None:
        if accept_unfingerprinted:
            return f"{path} carries no run fingerprint (an older version wrote it); its configuration is not checked"
        raise OtherRunError(f"Cannot resume from {path}: it carries no run fingerprint (an older version wrote it), "
                            "so nothing shows it belongs to this configuration. Pass --accept-unfingerprinted to "
                            "train.py to resume from it anyway. " + _advice(os.path.dirname(os.path.dirname(path))))
    diffs = differences(recorded, fingerprint)
    if diffs:
        folder = os.path.dirname(os.path.dirname(path))
        raise OtherRunError(f"Cannot resume from {path}: it was written by a run with another configuration: "
                            f"{describe(diffs)}. The resumed run would go on with the checkpoint's values while "
                            "results.json recorded the new ones. " + _advice(folder))
    return None


def finished(output_dir, cfg, eval_only=False, model_dir="", load_epoch=None):
    """Whether ``output_dir`` holds a finished run of exactly this configuration: True (skip it), False (not
    finished: run it). OtherRunError when it holds another configuration's finished run."""
    marker = os.path.join(output_dir, markers_of(cfg.TRAINER.NAME)[0])
    if not os.path.isfile(marker):
        return False
    check_marker(marker, run_fingerprint(cfg, eval_only, model_dir, load_epoch))
    return True


# ---- command line --------------------------------------------------------------------------------------------
def finished_args(argv):
    """``finished`` for a run given as train.py arguments (they must hold ``--output-dir``)."""
    from dpl.runs.config import setup_cfg
    from dpl.runs.train_args import parse_args

    args = parse_args(argv)
    cfg = setup_cfg(args)
    if not cfg.OUTPUT_DIR or not args.output_dir:
        raise ConfigError("run_identity check needs the run's --output-dir")
    return finished(cfg.OUTPUT_DIR, cfg, args.eval_only, args.model_dir, args.load_epoch)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "check":
        print("usage: python -m dpl.runs.run_identity check [train.py arguments]", file=sys.stderr)
        return 2
    try:
        done = finished_args(argv[1:])
    except DPLError as e:
        print("Error: " + " ".join(str(e).split()), file=sys.stderr)
        return 2
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
