"""PromptLayout: how many prompt tokens each layer of each CLIP tower gets (the result of DPL's search, or a
hand design such as "2 tokens in the first 9 layers"), with JSON io and validation against a model."""
import json
import os
import random as _random

from dpl.file_io import read_json, write_json
from dpl.errors import LayoutError

BRANCHES = ("vision", "text")
SPEC_FORMS = ("a path to a layout JSON file", "uniform:K", "uniform:K:DEPTH", "random:SEED", "zero")


def _where(where):
    return f"{where}: " if where else ""


class PromptLayout:
    """Per-layer prompt lengths of both towers. ``confidence`` / ``margin``: optional per-branch lists from a
    search (winning probability, winner minus runner-up); ``extra``: any further JSON-able fields."""

    def __init__(self, vision, text, max_length, backbone="", confidence=None, source="", extra=None, margin=None):
        self.vision = [int(v) for v in vision]
        self.text = [int(t) for t in text]
        self.max_length = int(max_length)
        self.backbone = backbone
        self.confidence = confidence
        self.margin = margin
        self.source = source
        self.extra = dict(extra or {})

    # ---- queries ---------------------------------------------------------------------------------------
    def branch(self, name):
        if name not in BRANCHES:
            raise LayoutError(f"unknown prompt branch {name!r}; expected one of {', '.join(BRANCHES)}")
        return getattr(self, name)

    def num_tokens(self, branch):
        """Total prompt tokens over the layers of ``branch``."""
        return sum(self.branch(branch))

    def summary(self):
        head = f"backbone {self.backbone}, " if self.backbone else ""
        return (f"{head}N={self.max_length}; vision {self.vision} ({self.num_tokens('vision')} tokens); "
                f"text {self.text} ({self.num_tokens('text')} tokens)")

    def __eq__(self, other):
        return isinstance(other, PromptLayout) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return f"PromptLayout({self.summary()})"

    # ---- validation ------------------------------------------------------------------------------------
    def validate(self, vision_layers, text_layers, max_length=None, where=""):
        """LayoutError naming ``where`` (a file), the branch, the layer index and the value when a length is not
        an int in 0..max_length or a branch has the wrong number of layers. Returns self."""
        limit = self.max_length if max_length is None else int(max_length)
        for name, layers in (("vision", vision_layers), ("text", text_layers)):
            values = self.branch(name)
            if layers is not None and len(values) != layers:
                raise LayoutError(f"{_where(where)}the {name} branch has {len(values)} layer lengths but the model's "
                                  f"{name} tower has {layers} layers")
            for i, v in enumerate(values):
                if v < 0 or v > limit:
                    raise LayoutError(f"{_where(where)}{name} layer {i} has prompt length {v}; expected an integer "
                                      f"in 0..{limit}")
        return self

    # ---- JSON ------------------------------------------------------------------------------------------
    def to_dict(self):
        d = {"backbone": self.backbone, "max_length": self.max_length, "vision": list(self.vision),
             "text": list(self.text)}
        if self.confidence is not None:
            d["confidence"] = {b: [float(c) for c in self.confidence[b]] for b in BRANCHES if b in self.confidence}
        if self.margin is not None:
            d["margin"] = {b: [float(m) for m in self.margin[b]] for b in BRANCHES if b in self.margin}
        d["source"] = self.source
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d, where=""):
        if not isinstance(d, dict):
            raise LayoutError(f"{_where(where)}a layout must be a JSON object with 'vision' and 'text' lists; "
                              f"got {type(d).__name__}")
        for b in BRANCHES:
            values = d.get(b)
            if not isinstance(values, list):
                raise LayoutError(f"{_where(where)}key {b!r} must be a list of per-layer prompt lengths; got {values!r}")
            for i, v in enumerate(values):
                if not isinstance(v, int) or isinstance(v, bool):
                    raise LayoutError(f"{_where(where)}{b} layer {i} has prompt length {v!r}; expected an integer")
        max_length = d.get("max_length", max(d["vision"] + d["text"], default=0))
        if not isinstance(max_length, int) or max_length < 0:
            raise LayoutError(f"{_where(where)}max_length is {max_length!r}; expected a non-negative integer")
        known = {"backbone", "max_length", "vision", "text", "confidence", "margin", "source"}
        layout = cls(d["vision"], d["text"], max_length, backbone=d.get("backbone", ""),
                     confidence=d.get("confidence"), source=d.get("source", ""), margin=d.get("margin"),
                     extra={k: v for k, v in d.items() if k not in known})
        return layout.validate(None, None, where=where)

    def save(self, path):
        write_json(self.to_dict(), path)

    @classmethod
    def load(cls, path, vision_layers=None, text_layers=None, max_length=None):
        if not os.path.isfile(path):
            raise LayoutError(f"layout file {path} does not exist")
        try:
            d = read_json(path)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LayoutError(f"layout file {path} is not valid JSON: {e}") from None
        layout = cls.from_dict(d, where=path)
        return layout.validate(vision_layers, text_layers, max_length, where=path)

    # ---- constructors ----------------------------------------------------------------------------------
    @classmethod
    def uniform(cls, length, vision_layers, text_layers, depth=None, max_length=None, backbone=""):
        """``length`` tokens in the first ``depth`` layers (all layers when None) of both towers."""
        length = int(length)
        if length < 0:
            raise LayoutError(f"uniform layout length is {length}; expected >= 0")
        if depth is not None and (int(depth) < 0 or int(depth) > max(vision_layers, text_layers)):
            raise LayoutError(f"uniform layout depth is {depth}; expected 0..{max(vision_layers, text_layers)} "
                              f"(vision has {vision_layers} layers, text {text_layers})")
        limit = length if max_length is None else int(max_length)

        def one(layers):
            d = layers if depth is None else min(int(depth), layers)
            return [length] * d + [0] * (layers - d)

        layout = cls(one(vision_layers), one(text_layers), limit, backbone=backbone, source=f"uniform:{length}" + ("" if depth is None else f":{depth}"))
        return layout.validate(vision_layers, text_layers)

    @classmethod
    def random(cls, seed, vision_layers, text_layers, max_length, backbone=""):
        """Lengths drawn uniformly from 0..max_length with a private RNG (the global one is untouched)."""
        rng = _random.Random(int(seed))
        vision = [rng.randint(0, max_length) for _ in range(vision_layers)]
        text = [rng.randint(0, max_length) for _ in range(text_layers)]
        return cls(vision, text, max_length, backbone=backbone, source=f"random:{seed}")

    @classmethod
    def zero(cls, vision_layers, text_layers, max_length=0, backbone=""):
        return cls([0] * vision_layers, [0] * text_layers, max_length, backbone=backbone, source="zero")

    @classmethod
    def from_spec(cls, spec, vision_layers, text_layers, max_length, backbone=""):
        """``TRAINER.LAYOUT``: a JSON path, ``uniform:K``, ``uniform:K:DEPTH``, ``random:SEED`` or ``zero``."""
        spec = str(spec).strip()
        forms = "; expected one of: " + ", ".join(SPEC_FORMS)
        parts = spec.split(":")
        try:
            if parts[0] == "uniform" and len(parts) in (2, 3):
                depth = int(parts[2]) if len(parts) == 3 else None
                return cls.uniform(int(parts[1]), vision_layers, text_layers, depth=depth, max_length=max_length,
                                   backbone=backbone)
            if parts[0] == "random" and len(parts) == 2:
                return cls.random(int(parts[1]), vision_layers, text_layers, max_length, backbone=backbone)
        except ValueError:
            raise LayoutError(f"TRAINER.LAYOUT={spec!r} has a non-integer number{forms}") from None
        if spec == "zero":
            return cls.zero(vision_layers, text_layers, max_length, backbone=backbone)
        if spec.endswith(".json") or os.path.sep in spec or os.path.exists(spec):
            return cls.load(spec, vision_layers, text_layers, max_length)
        raise LayoutError(f"TRAINER.LAYOUT={spec!r} is not a layout{forms}")
