"""Check a data root before training: ``python -m dpl.check_data [--root DATA] [DATASET ...]`` (DATA: ./data).

DATASET is a registry name (``Caltech101``) or a config-file stem (``caltech101``); by default every
dataset whose folder exists under the root. Per dataset it reports: folder and split file present,
images found per split vs the split file (missing ones listed), class count, unreadable images
(``PIL.Image.verify`` on up to ``--verify-limit`` images per split, 0 = all) and known traps (ImageNet
val extracted flat, missing classnames.txt). Exit status: 0 when all is well, 1 on any problem, 2 on
a usage error.
"""
import argparse
import os
import sys
import warnings

from tabulate import tabulate

from dpl.errors import DPLError, UnknownNameError
from dpl.repo_packages import import_repo_package

MAX_LISTED = 5


def _resolve_names(names):
    datasets = import_repo_package("datasets")

    out = []
    for name in names:
        if name in datasets.ALL_DATASETS:
            out.append(name)
        elif name in datasets.CONFIG_STEMS:
            out.append(datasets.CONFIG_STEMS[name])
        else:
            from dpl.engine.data.datasets import DATASET_REGISTRY

            raise UnknownNameError(DATASET_REGISTRY.unknown_message(name) + " Config-file stems are accepted too: "
                                   + ", ".join(sorted(datasets.CONFIG_STEMS)) + ".")
    return out


def _found_under(root):
    datasets = import_repo_package("datasets")

    return [name for name, cls in datasets.ALL_DATASETS.items()
            if name != "CustomFolder" and os.path.isdir(cls.folder(root))]


def _split_sources(cls, root):
    """(label for the "split file" column, list of files that must exist)."""
    SplitFileDataset = import_repo_package("datasets").base.SplitFileDataset

    folder = cls.folder(root)
    if isinstance(cls, type) and issubclass(cls, SplitFileDataset):
        return cls.split_file, [cls.split_path_of(root)]
    if cls.__name__ == "FGVCAircraft":
        files = ["variants.txt", *cls.split_files.values()]
        return "variants.txt + images_variant_*.txt", [os.path.join(folder, f) for f in files]
    return "class folders", []


def _traps(cls, root):
    imagenet = import_repo_package("datasets").imagenet
    ImageNet, flat_images = imagenet.ImageNet, imagenet.flat_images

    problems = []
    if cls is ImageNet:
        val = os.path.join(cls.folder(root), "images", "val")
        if os.path.isdir(val):
            flat = flat_images(val)
            if flat:
                problems.append(f"{len(flat)} images lie directly in {val} (e.g. {flat[0]}): ImageNet val was "
                                "extracted flat; sort them into one folder per class (wnid) "
                                "(DATASETS.md, section ImageNet)")
        if not os.path.isfile(cls.classnames_path(root)):
            problems.append(f"missing {cls.classnames_path(root)} (the shipped list would be used; "
                            "DATASETS.md, section ImageNet)")
    return problems


def _unreadable(items, limit, missing):
    """PIL-verify, then decode as training does, up to ``limit`` of the images not in ``missing``; returns
    (unreadable paths, paths that decode to a single colour, number checked)."""
    from PIL import Image

    from dpl.engine.utils.tools import read_image

    missing = set(missing)
    present = [i.impath for i in items if i.impath not in missing]
    if limit and len(present) > limit:  # evenly spread sample, deterministic
        step = len(present) / limit
        present = [present[int(k * step)] for k in range(limit)]
    bad, constant = [], []
    for path in present:
        try:
            with Image.open(path) as im:
                im.verify()
            extrema = read_image(path).getextrema()
        except Exception:  # PIL raises many types for broken files
            bad.append(path)
            continue
        if all(lo == hi for lo, hi in extrema):
            constant.append(path)
    return bad, constant, len(present)


def check_dataset(name, root, verify_limit=1000, folder=None):
    """Inspect one dataset. Returns ``(row, problems, notes)``: a table row (dict), problem strings
    (each makes the exit status 1) and notes (informational)."""
    datasets = import_repo_package("datasets")

    cls = datasets.ALL_DATASETS[name]
    problems, notes = [], []
    if name == "CustomFolder":
        dataset_folder = os.path.abspath(os.path.join(root, folder or ""))
        split_label, split_files = "split.json or class folders", []
    else:
        dataset_folder = cls.folder(root)
        split_label, split_files = _split_sources(cls, root)
    row = {"dataset": name, "folder": "yes" if os.path.isdir(dataset_folder) else "MISSING",
           "split file": split_label, "classes": "-", "train": "-", "val": "-", "test": "-", "unreadable": "-"}
    if name == "Demo" and not os.path.isdir(dataset_folder):
        row["folder"] = "absent"
        notes.append(f"{dataset_folder} is absent; it is generated on first use")
        return row, problems, notes
    if not os.path.isdir(dataset_folder):
        problems.append(f"folder not found: {dataset_folder} (see DATASETS.md, section {cls.section_name()})")
        return row, problems, notes
    missing_files = [p for p in split_files if not os.path.isfile(p)]
    if split_files:
        row["split file"] = f"{split_label}: " + ("yes" if not missing_files else "MISSING")
    problems += [f"split file not found: {p} (see DATASETS.md, section {cls.section_name()})" for p in missing_files]
    traps = _traps(cls, root)
    problems += traps
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            splits = cls.read_folder(dataset_folder) if name == "CustomFolder" else cls.read_splits(root)
        except DPLError as e:
            # Only what the split-file and trap checks above already reported is dropped.
            already_said = any(p in str(e) for p in missing_files) or (traps and "extracted flat" in str(e))
            if not already_said:
                problems.append(str(e))
            return row, problems, notes
    notes += [str(w.message) for w in caught]
    labels, unreadable, constant, verified = set(), [], [], 0
    checked = {}  # id(list) -> missing images; ImageNet's val and test are one list, checked once
    for split, items in splits.items():
        labels |= {i.label for i in items}
        first = id(items) not in checked
        if first:
            checked[id(items)] = cls.missing_images(items)
        missing = checked[id(items)]
        row[split] = f"{len(items) - len(missing)}/{len(items)}"
        if missing:
            problems.append(f"{len(missing)} of {len(items)} {split} images missing, e.g. "
                            + ", ".join(missing[:MAX_LISTED]))
        if first:
            bad, blank, n = _unreadable(items, verify_limit, missing)
            unreadable += bad
            constant += blank
            verified += n
        if not items:
            problems.append(f"the {split} split is empty")
    row["classes"] = len(labels)
    row["unreadable"] = f"{len(unreadable)} of {verified} checked"
    if unreadable:
        problems.append(f"{len(unreadable)} unreadable images, e.g. " + ", ".join(unreadable[:MAX_LISTED]))
    if constant:
        # one blank image may be real; many mean files that decode wrong (an unusual format, blank exports)
        listed = (f"{len(constant)} of {verified} checked images decode to a single colour, e.g. "
                  + ", ".join(constant[:MAX_LISTED]))
        (problems if len(constant) * 100 >= verified else notes).append(listed)
    return row, problems, notes


DEFAULT_ROOT = "./data"  # where the scripts (DATA) and the sweep (--data) look when run from the repository


def build_parser():
    p = argparse.ArgumentParser(prog="dpl-check-data", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=DEFAULT_ROOT,
                   help=f"the data root (DATASET.ROOT; default {DEFAULT_ROOT}, as the scripts' DATA)")
    p.add_argument("datasets", nargs="*", help="registry names or config-file stems (default: all found)")
    p.add_argument("--folder", default="", help="also check a CustomFolder dataset (DATASET.FOLDER)")
    p.add_argument("--verify-limit", type=int, default=1000,
                   help="images per split opened with PIL to find unreadable ones (0 = all; default 1000)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    root = os.path.abspath(os.path.expanduser(args.root))
    if not os.path.isdir(root):
        given = "" if args.root != DEFAULT_ROOT else f" (the default, {DEFAULT_ROOT}; give another with --root DATA)"
        print(f"Data root not found: {root}{given}")
        return 1
    try:
        names = _resolve_names(args.datasets) if args.datasets else _found_under(root)
    except UnknownNameError as e:
        print(f"Error: {e}")
        return 2
    if args.folder and "CustomFolder" not in names:
        names.append("CustomFolder")
    if not names:
        print(f"No dataset folders found under {root}; see DATASETS.md for the expected layout of each benchmark.\n"
              "A dataset of your own (a folder with one sub-folder of images per class, or a split.json) is checked "
              "with --folder PATH (absolute, or relative to --root): the folder your runs name in DATASET.FOLDER, "
              "e.g. python -m dpl.check_data --root DATA --folder my_photos")
        return 1
    rows, report, failed = [], [], False
    for name in names:
        row, problems, notes = check_dataset(name, root, args.verify_limit, args.folder)
        row["status"] = "PROBLEM" if problems else "ok"
        failed |= bool(problems)
        rows.append(row)
        report += [f"[{name}] problem: {p}" for p in problems] + [f"[{name}] note: {n}" for n in notes]
    print(f"Data root: {root}")
    print(tabulate([list(r.values()) for r in rows], headers=list(rows[0].keys())))
    if report:
        print()
        print("\n".join(report))
    print("\nAll datasets look fine." if not failed else "\nProblems found (see above).")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
