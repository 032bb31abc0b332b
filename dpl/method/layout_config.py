"""The one place a trainer turns ``TRAINER.LAYOUT`` into a PromptLayout (or its hand design when unset)."""
import json
import os

from dpl.errors import ConfigError, LayoutError
from dpl.prompting import PromptLayout


def layout_from_cfg(cfg, clip_model, max_length, default=None):
    """``TRAINER.LAYOUT`` (a JSON path, ``uniform:K[:DEPTH]``, ``random:SEED`` or ``zero``) validated against
    the loaded model, or ``default`` (the method's hand design) when the key is empty."""
    spec = cfg.TRAINER.LAYOUT
    if not spec:
        return default
    backbone = cfg.MODEL.BACKBONE.NAME
    try:
        layout = PromptLayout.from_spec(spec, clip_model.vision_layers, clip_model.text_layers,
                                        max_length=max_length, backbone=backbone)
    except LayoutError as e:
        made_for = _file_backbone(spec)
        if made_for and made_for != backbone:
            raise LayoutError(f"{e}. The layout was made for backbone {made_for}; this run loads {backbone} "
                              f"(MODEL.BACKBONE.NAME): search a layout on {backbone}, or run {made_for}") from None
        raise
    if layout.backbone and layout.backbone != backbone:
        print(f"WARNING: TRAINER.LAYOUT={spec} was made for backbone {layout.backbone} but this run loads {backbone}; "
              "the depths agree, so its lengths are used as they are (a layout searched on this backbone may differ)")
    print(f"Prompt layout from TRAINER.LAYOUT={spec}: {layout.summary()}")
    return layout


def _file_backbone(spec):
    """The ``backbone`` a layout file names ("" when ``spec`` is no readable layout file)."""
    try:
        with open(os.path.expanduser(spec)) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return ""
    return str(data.get("backbone", "")) if isinstance(data, dict) else ""


def context_length_from_layout(cfg, clip_model, node):
    """The context length of a CoOp-style method (``TRAINER.<node>``): the layout's text length at layer 0 when
    ``TRAINER.LAYOUT`` is set, else the method's ``N_CTX`` (None when ``CTX_INIT`` decides it)."""
    c = cfg.TRAINER[node]
    layout = layout_from_cfg(cfg, clip_model, max_length=c.N_CTX)
    if layout is None:
        return None if c.CTX_INIT else c.N_CTX
    if layout.text[0] < 1:
        raise ConfigError(f"TRAINER.LAYOUT={cfg.TRAINER.LAYOUT} gives text layer 0 no prompt tokens; "
                          f"TRAINER.{node} needs at least one context token there")
    return layout.text[0]
