"""Turn the official DPL search's alpha files into our ``layout.json``.

    python -m dpl.search.import_official OUTPUT_DIR                  # the last epoch's pair in that folder
    python -m dpl.search.import_official OUTPUT_DIR --epoch 40
    python -m dpl.search.import_official alpha_e80_img.npy alpha_e80_txt.npy -o layout.json
    python -m dpl.search.import_official OUTPUT_DIR --read launch-train

The official search saves ``alpha_e{E}_img.npy`` and ``alpha_e{E}_txt.npy`` each epoch, **with the branch names
swapped**: the ``_img`` file holds the text tower's alphas and the ``_txt`` file the image tower's. Its train script
(``launch_train.sh DATASET DIR IMG_ALPHA_PATH TXT_ALPHA_PATH ...``) reads the two files it is given as named, so
passing them by their names gives the image tower the text search's lengths and the reverse. Two readings, chosen by
``--read``:

  search        (default) the search's own result: the _txt file's alphas for the image tower, the _img file's for
                the text tower (the save's swap undone)
  launch-train  exactly what launch_train.sh builds from alpha_e{E}_img.npy as IMG_ALPHA_PATH and alpha_e{E}_txt.npy
                as TXT_ALPHA_PATH: the _img file for the image tower (also right for files whose names were fixed)

The two differ whenever the towers' searched lengths differ. The layout is the argmax of softmax(alpha) per layer
(a tie goes to the shortest length, as the official torch.argmax), with its confidence and margin, as our own search
writes it.
"""
import argparse
import os
import re
import sys

import numpy as np
import torch

from dpl.errors import DPLError, LayoutError
from dpl.prompting import Architecture

_NAME = re.compile(r"^alpha_e(\d+)_(img|txt)\.npy$")
LAYOUT_FILE = "layout.json"
# --read: which file gives the image tower's alphas
READINGS = {"search": "txt", "launch-train": "img"}


def find_pair(folder, epoch=None):
    """``{"img": path, "txt": path}`` of ``epoch`` (default: the last epoch with both files) in ``folder``."""
    found = {}
    for name in os.listdir(folder):
        m = _NAME.match(name)
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = os.path.join(folder, name)
    complete = sorted(e for e, files in found.items() if len(files) == 2)
    if epoch is None:
        if not complete:
            raise LayoutError(f"{folder} holds no pair alpha_e<E>_img.npy / alpha_e<E>_txt.npy of the official search")
        epoch = complete[-1]
    if epoch not in complete:
        have = ", ".join(map(str, complete)) or "none"
        raise LayoutError(f"{folder} has no complete pair of alpha files for epoch {epoch} (complete epochs: {have})")
    return found[epoch], epoch


def pair_from_files(paths):
    """``{"img": path, "txt": path}`` from two file paths named as the official search names them."""
    pair = {}
    for path in paths:
        m = _NAME.match(os.path.basename(path))
        if not m:
            raise LayoutError(f"{path}: expected a file named alpha_e<EPOCH>_img.npy or alpha_e<EPOCH>_txt.npy")
        if m.group(2) in pair:
            raise LayoutError(f"two _{m.group(2)} files given ({pair[m.group(2)]}, {path}); give one _img and one _txt")
        pair[m.group(2)] = path
    if set(pair) != {"img", "txt"}:
        raise LayoutError(f"give one alpha_e<E>_img.npy and one alpha_e<E>_txt.npy (got {', '.join(paths)})")
    return pair


def _load_alphas(path):
    if not os.path.isfile(path):
        raise LayoutError(f"alpha file {path} does not exist")
    try:
        alphas = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise LayoutError(f"alpha file {path} is not a numpy array file ({e})") from None
    if alphas.ndim != 2 or alphas.shape[1] < 2 or not np.issubdtype(alphas.dtype, np.floating):
        raise LayoutError(f"alpha file {path} holds an array of shape {alphas.shape} ({alphas.dtype}); expected "
                          "floating-point (layers, N + 1) architecture logits")
    with np.errstate(over="ignore"):
        as_float32 = alphas.astype(np.float32)  # the precision the layout is derived in: check after the cast
    if not np.isfinite(as_float32).all():
        where = np.argwhere(~np.isfinite(as_float32))[0]
        raise LayoutError(f"alpha file {path} holds {alphas[tuple(where)]!r} at layer {where[0]}, candidate "
                          f"{where[1]}: not a finite float32 (NaN, inf, or beyond float32's range)")
    return torch.from_numpy(as_float32)


def tower_layers(backbone):
    """``{"vision": n, "text": n}``: the depths of ``backbone``'s towers, from its model description (tiny-random:
    ours; OpenAI and open_clip names: open_clip's config of that architecture, else the OpenAI weights file when
    it is on this machine). None when neither is available; LayoutError when the name is unknown."""
    from dpl.backbones import open_clip_backbone as backbone_open_clip
    from dpl.backbones.loading import TINY_ARCH, TINY_NAME

    if backbone == TINY_NAME:
        return {"vision": TINY_ARCH["vision_layers"], "text": TINY_ARCH["transformer_layers"]}
    arch = (backbone_open_clip.model_name(backbone) if backbone_open_clip.is_open_clip_name(backbone)
            else backbone.replace("/", "-"))
    try:
        import open_clip
    except ImportError:  # an optional extra: count the blocks of the weights file instead
        return _layers_of_weights_file(backbone)
    config = open_clip.get_model_config(arch) or {}
    vision, text = config.get("vision_cfg", {}).get("layers"), config.get("text_cfg", {}).get("layers")
    if not isinstance(vision, int) or not isinstance(text, int):
        raise LayoutError(f"--backbone {backbone}: its tower depths are not known (no ViT config {arch}); name the "
                          "ViT the search ran on (the official code: ViT-B/16)")
    return {"vision": vision, "text": text}


def _layers_of_weights_file(backbone):
    from dpl.backbones.loading import _read_state_dict, local_weights_file

    try:
        file = local_weights_file(backbone)
    except DPLError:
        return None
    if file is None:
        return None
    keys = _read_state_dict(file)
    blocks = {tower: {k.split(".")[prefix.count(".")] for k in keys if k.startswith(prefix)}
              for tower, prefix in (("vision", "visual.transformer.resblocks."), ("text", "transformer.resblocks."))}
    return {tower: len(found) for tower, found in blocks.items()}


def layout_from_pair(pair, read="search", backbone="ViT-B/16", source=""):
    """The PromptLayout of an official ``{"img": path, "txt": path}`` pair, read as ``read`` says (``READINGS``)."""
    if read not in READINGS:
        raise LayoutError(f"reading {read!r} of the official alpha files; expected one of {', '.join(READINGS)}")
    swap = READINGS[read] == "txt"
    vision_file, text_file = (pair["txt"], pair["img"]) if swap else (pair["img"], pair["txt"])
    vision, text = _load_alphas(vision_file), _load_alphas(text_file)
    depths = tower_layers(backbone)
    if depths is None:
        print(f"Note: the layer counts of {backbone} are not known here (no open_clip, no weights file); train.py "
              "checks the layout against the model when it is used")
    for tower, values, path in (("vision", vision, vision_file), ("text", text, text_file)):
        if depths is not None and values.shape[0] != depths[tower]:
            raise LayoutError(f"alpha file {path} holds the {tower} alphas of {values.shape[0]} layers, but the "
                              f"{tower} tower of {backbone} has {depths[tower]} layers; pass the --backbone the "
                              "search ran on")
    if vision.shape[1] != text.shape[1]:
        raise LayoutError(f"{vision_file} has {vision.shape[1]} candidate lengths per layer but {text_file} has "
                          f"{text.shape[1]}; both must be N + 1")
    arch = Architecture(vision.shape[0], text.shape[0], vision.shape[1] - 1)
    with torch.no_grad():
        arch.vision.copy_(vision)
        arch.text.copy_(text)
    layout = arch.derive_layout(backbone=backbone, source=source)
    layout.extra["imported_from"] = {"vision": vision_file, "text": text_file, "read_as": read,
                                     "branch_names_swapped": bool(swap)}
    return layout


def main(argv=None):
    summary, details = __doc__.split("\n\n", 1)  # the summary once (description), the examples and notes after
    p = argparse.ArgumentParser(description=summary, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=details)
    p.add_argument("paths", nargs="+", help="the official search's output folder, or its _img and _txt files")
    p.add_argument("--epoch", type=int, help="epoch of the pair to import from a folder (default: the last)")
    p.add_argument("--read", choices=tuple(READINGS), default="search",
                   help="how to read the pair (default: search). search: the search's own result, the _txt file "
                        "for the image tower; launch-train: what the official launch_train.sh builds from the files "
                        "passed by name, the _img file for the image tower")
    p.add_argument("--no-swap", action="store_true", help="the same as --read launch-train")
    p.add_argument("--backbone", default="ViT-B/16", help="the backbone the search ran on (the official code: ViT-B/16)")
    p.add_argument("-o", "--output", help=f"layout file to write (default: {LAYOUT_FILE} beside the alpha files)")
    p.add_argument("--force", action="store_true", help="replace an existing layout file")
    args = p.parse_args(argv)
    try:
        for path in args.paths:
            if not os.path.exists(path):
                raise LayoutError(f"{path} does not exist (expected the official search's output folder, or its "
                                  "alpha_e<E>_img.npy and alpha_e<E>_txt.npy files)")
        if len(args.paths) == 1 and os.path.isdir(args.paths[0]):
            pair, epoch = find_pair(args.paths[0], args.epoch)
        else:
            pair, epoch = pair_from_files(args.paths), None
        read = "launch-train" if args.no_swap else args.read
        source = os.path.dirname(os.path.abspath(pair["img"]))
        layout = layout_from_pair(pair, read=read, backbone=args.backbone, source=source)
        output = args.output or os.path.join(source, LAYOUT_FILE)
        if os.path.exists(output) and not args.force:
            raise LayoutError(f"{output} exists; pass --force to replace it or -o to write elsewhere")
        img, txt = os.path.basename(pair["img"]), os.path.basename(pair["txt"])
        if read == "search":
            print(f"Reading {txt} as the image (vision) alphas and {img} as the text alphas: the official search "
                  "saves them under each other's names, so this is the search's own result. The official "
                  "launch_train.sh given the files by name builds the other way round (--read launch-train)")
        else:
            print(f"Reading {img} as the image (vision) alphas and {txt} as the text alphas, as the official "
                  "launch_train.sh does with the files passed by name; for an official search's files this gives "
                  "the image tower the text search's lengths (--read search gives the search's own result)")
        if epoch is not None:
            print(f"Epoch {epoch}")
        print(f"Layout: {layout.summary()}")
        layout.save(output)
        print(f"Written to {output}")
    except DPLError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
